# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Session fixtures shared by every test folder (helpers: ``helpers.py``)."""
from pathlib import Path

import pytest
import torch

from tests.datasets import trees
from tests.helpers import CUDA_EXACT, DEVICES, require_reference


@pytest.fixture(params=DEVICES)
def device(request) -> torch.device:
    """Each computation test runs on the CPU and, where CUDA is available,
    on CUDA (TF32 off, deterministic cuDNN: :data:`CUDA_EXACT`)."""
    if request.param != 'cuda':
        yield torch.device('cpu')
        return
    saved = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
             torch.backends.cudnn.deterministic)
    torch.backends.cuda.matmul.allow_tf32 = CUDA_EXACT['allow_tf32']
    torch.backends.cudnn.allow_tf32 = CUDA_EXACT['allow_tf32']
    torch.backends.cudnn.benchmark = CUDA_EXACT['benchmark']
    torch.backends.cudnn.deterministic = CUDA_EXACT['deterministic']
    try:
        yield torch.device('cuda')
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
         torch.backends.cudnn.deterministic) = saved


@pytest.fixture
def reference_dir() -> Path:
    """The official reference folder; skips the test when it is absent."""
    return require_reference()


@pytest.fixture(scope='session')
def pascal_root(tmp_path_factory) -> Path:
    """VOC2012 tree (:func:`tests.datasets.trees.write_pascal_tree`)."""
    return trees.write_pascal_tree(tmp_path_factory.mktemp('pascal'))


@pytest.fixture(scope='session')
def coco_root(tmp_path_factory) -> Path:
    """COCO2014 tree (:func:`tests.datasets.trees.write_coco_tree`)."""
    return trees.write_coco_tree(tmp_path_factory.mktemp('coco'))


@pytest.fixture(scope='session')
def fss_root(tmp_path_factory) -> Path:
    """FSS-1000 tree (:func:`tests.datasets.trees.write_fss_tree`)."""
    return trees.write_fss_tree(tmp_path_factory.mktemp('fss'))


@pytest.fixture(scope='session')
def folder_root(tmp_path_factory) -> Path:
    """User folders (:func:`tests.datasets.trees.write_folder_tree`)."""
    return trees.write_folder_tree(tmp_path_factory.mktemp('folder'))
