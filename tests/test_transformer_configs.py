# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The Swin-T and MiT-B2 configs: build, fit at 400 px, train, predict.

The backbones get random weights (``init_cfg=None``): nothing is
downloaded.
"""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import hsnet_mm  # noqa: F401
from tests.models.few_shot_toys import packed_batch

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'configs' / 'hsnet'
BACKBONES = ('swin-t', 'mit-b2')
_MODELS = {}


def load_cfg(backbone: str, shot: int = 1) -> Config:
    cfg = Config.fromfile(CONFIG_DIR /
                          f'hsnet_{backbone}_pascal5i_fold0_{shot}shot.py')
    assert cfg.model.backbone.backbone.init_cfg.checkpoint.startswith(
        'https://download.openmmlab.com/')
    cfg.model.backbone.backbone.init_cfg = None  # random weights
    return cfg


def build_model(backbone: str):
    """One model per backbone for the module (building Swin-T takes ~1 s)."""
    if backbone not in _MODELS:
        init_default_scope('mmseg')
        torch.manual_seed(0)
        model = MODELS.build(load_cfg(backbone).model)
        model.init_weights()
        _MODELS[backbone] = model
    return _MODELS[backbone]


@pytest.mark.parametrize('backbone', BACKBONES)
@pytest.mark.parametrize('size', [400, 128])
def test_every_level_fits_the_squeeze_strides(backbone, size):
    """The squeezed support dims of the levels agree (meta tensors)."""
    model = build_model(backbone)
    meta = MODELS.build(load_cfg(backbone).model).to('meta').eval()
    img = torch.empty(1, 3, size, size, device='meta')
    feats = meta.backbone(img)
    expected = [-(-size // s) for s in (32, 16, 8)]  # deepest first
    assert [level[0].shape[-1] for level in feats] == expected
    assert [len(level) for level in feats] == list(model.encoder.in_channels)
    pyramid = meta.neck(feats, feats, torch.ones(1, size, size, device='meta'))
    out = meta.encoder(pyramid)  # raises if the support dims disagree
    assert tuple(out.shape) == (1, 128, expected[-1], expected[-1])


@pytest.mark.parametrize('backbone', BACKBONES)
def test_train_step_and_prediction_on_a_small_episode(backbone):
    model = build_model(backbone)
    cfg = load_cfg(backbone)
    assert model.backbone.frozen
    before = {n: p.clone() for n, p in model.named_parameters()}
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = packed_batch(b=1, k=1, h=96, w=96)
    model.train()
    assert torch.isfinite(model.train_step(batch, wrapper)['loss'])
    changed = {
        n.split('.')[0]
        for n, p in model.named_parameters() if not torch.equal(p, before[n])
    }
    assert changed == {'encoder', 'decode_head'}  # the backbone is frozen
    model.eval()
    shot5 = packed_batch(b=1, k=5, h=96, w=96)
    with torch.no_grad():
        logits = model(**model.data_preprocessor(shot5), mode='tensor')
        samples = model.test_step(shot5)
    assert logits.shape == (1, 5, 2, 96, 96)
    assert samples[0].pred_sem_seg.data.shape == (1, 96, 96)


@pytest.mark.parametrize('backbone', BACKBONES)
def test_five_shot_children_change_only_the_test_shot(backbone):
    one, five = load_cfg(backbone, 1), load_cfg(backbone, 5)
    assert five.model == one.model
    assert five.train_dataloader == one.train_dataloader
    # validation stays 1-shot, as the official training (issue 11)
    assert five.val_dataloader == one.val_dataloader
    assert (one.test_dataloader.dataset.shot,
            five.test_dataloader.dataset.shot) == (1, 5)
