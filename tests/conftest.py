# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Session fixtures shared by every test folder (helpers: ``helpers.py``)."""
from pathlib import Path

import pytest

from tests.datasets import trees
from tests.helpers import require_reference


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
