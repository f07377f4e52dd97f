# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Training steps of the demo config learn: 1-shot and K-shot."""
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import hsnet_mm  # noqa: F401
from tests.helpers import REPO_ROOT

CONFIG = REPO_ROOT / 'configs/hsnet/hsnet_r18_synthetic_1shot.py'


@pytest.mark.parametrize('shot', [1, 2])
def test_loss_decreases_on_a_fixed_batch(shot):
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmseg')
    torch.manual_seed(0)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.update(shot=shot, img_size=64, images_per_class=4)
    ds_cfg.pipeline[1].scale = (64, 64)
    dataset = DATASETS.build(ds_cfg)
    batch = pseudo_collate([dataset[i] for i in range(4)])
    assert batch['inputs']['support_imgs'][0].shape[0] == shot
    model = MODELS.build(cfg.model)
    model.init_weights()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    model.train()
    losses = [
        model.train_step(batch, wrapper)['decode.loss_ce'].item()
        for _ in range(12)
    ]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert min(losses[-3:]) < 0.7 * losses[0], losses
