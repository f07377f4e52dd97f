# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Shared test helpers: where ``../shared`` (the reference material) is, the
tiny HSNet config. Imported by tests; ``conftest.py`` only holds fixtures."""
import os
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(
    os.environ.get('HSNET_SHARED_DIR', REPO_ROOT.parent / 'shared'))
REFERENCE_DIR = SHARED_DIR / 'reference' / 'hsnet_official'

#: every device a computation test runs on: always the CPU; CUDA where it
#: is available (the ``cuda`` marker selects those: ``pytest -m cuda``)
DEVICES = [
    pytest.param('cpu', id='cpu'),
    pytest.param(
        'cuda',
        id='cuda',
        marks=[
            pytest.mark.cuda,
            pytest.mark.skipif(
                not torch.cuda.is_available(),
                reason='CUDA is not available on this machine')
        ])
]

#: the numerics policy of equality tests on CUDA: TF32 off (a TF32 GEMM or
#: conv keeps 10 mantissa bits, ~1e-3 relative: equality to the reference
#: at 1e-5 would not hold), deterministic cuDNN algorithms; the tolerances
#: stay those of the CPU (1e-5 fast vs reference, 1e-4 against the official
#: fixture) until a GPU run measures them (docs/performance.md)
CUDA_EXACT = dict(allow_tf32=False, benchmark=False, deterministic=True)


def require_reference(*relative: str) -> Path:
    """Path inside ``../shared/reference/hsnet_official``; skip if absent."""
    path = REFERENCE_DIR.joinpath(*relative)
    if not path.exists():
        pytest.skip(f'{path} is absent: the official reference material '
                    '(../shared beside the repository) is not available')
    return path


def tiny_hsnet_cfg(frozen: bool = True) -> dict:
    """A tiny HSNet (ResNet-18 with 8 base channels, small 4D encoder)."""
    return dict(
        type='HSNet',
        data_preprocessor=dict(type='EpisodeDataPreProcessor'),
        backbone=dict(
            type='HSNetResNet',
            depth=18,
            stem_channels=8,
            base_channels=8,
            frozen=frozen,
            init_cfg=None),
        neck=dict(type='HypercorrelationNeck', mask_support=True),
        encoder=dict(
            type='CenterPivot4DEncoder',
            in_channels=(2, 2, 2),
            squeeze_channels=(4, 8, 16),
            mix_channels=(16, 16, 16)),
        decode_head=dict(
            type='ContextDecodeHead',
            in_channels=16,
            channels=8,
            hidden_channels=(16, 8),
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)))


#: The config the official fixture's weights load into.
OFFICIAL_R50_CONFIG = (
    REPO_ROOT / 'configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py')


def official_fixture_model():
    """``(fixture, model)``: the official fixture (``fixture_resnet50.pt``:
    weights, inputs, logits) and our R50 HSNet (eval, CPU) with its
    weights through the converter; skip if ``../shared`` is absent."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    import hsnet_mm  # noqa: F401
    from hsnet_mm.models.official_checkpoint import convert_official_state_dict
    from hsnet_mm.utils import state_dict_shapes
    path = require_reference('fixture_resnet50.pt')
    fixture = torch.load(path, weights_only=True)
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(OFFICIAL_R50_CONFIG).model).eval()
    state, dropped = convert_official_state_dict(fixture['state_dict'],
                                                 state_dict_shapes(model))
    assert sorted(dropped) == ['backbone.fc.bias', 'backbone.fc.weight']
    model.load_state_dict(state, strict=True)
    return fixture, model


def official_split_dir(name: str) -> Path:
    """``<shared>/reference/hsnet_official/splits/<name>``; skip if absent.

    Honours ``HSNET_SHARED_DIR`` as :data:`SHARED_DIR` does.
    """
    return require_reference('splits', name).resolve()
