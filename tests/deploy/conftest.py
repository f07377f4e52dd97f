# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Fixtures of the deployment tests: a tiny HSNet trained for a few
iterations on the synthetic set, its export, and the export of the official
fixture's weights (skipped where ``../shared`` is absent)."""
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import hsnet_mm  # noqa: F401
from hsnet_mm.deploy import export_onnx
from tests.helpers import (OFFICIAL_R50_CONFIG, official_fixture_model,
                           tiny_hsnet_cfg)

#: The tiny model's input size (the synthetic set's images).
SIZE = 64


def tiny_deploy_config() -> Config:
    """The tiny HSNet with a synthetic 1-shot test set at :data:`SIZE`."""
    pipeline = [
        dict(type='LoadEpisode'),
        dict(type='ResizeEpisode', scale=(SIZE, SIZE)),
        dict(type='PackEpisodeInputs'),
    ]
    dataset = dict(
        type='SyntheticFewShotDataset',
        img_size=SIZE,
        images_per_class=4,
        fold=0,
        shot=1,
        pipeline=pipeline)
    return Config(
        dict(
            default_scope='mmseg',
            custom_imports=dict(
                imports=['hsnet_mm'], allow_failed_imports=False),
            model=tiny_hsnet_cfg(),
            train_dataloader=dict(
                dataset=dict(dataset, mode='train', num_episodes=8)),
            test_dataloader=dict(dataset=dict(dataset, mode='test'))))


@pytest.fixture(scope='session')
def trained_tiny(tmp_path_factory):
    """``(cfg, model, config_path, checkpoint_path)``: the tiny HSNet after
    6 Adam steps on synthetic episodes (eval mode, CPU)."""
    cfg = tiny_deploy_config()
    init_default_scope('mmseg')
    torch.manual_seed(0)
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    model = MODELS.build(cfg.model)
    model.init_weights()
    wrapper = build_optim_wrapper(model,
                                  dict(optimizer=dict(type='Adam', lr=1e-3)))
    model.train()
    for step in range(6):
        batch = pseudo_collate([dataset[(2 * step + i) % 8] for i in (0, 1)])
        model.train_step(batch, wrapper)
    model.eval()
    model.cfg = cfg
    folder = tmp_path_factory.mktemp('tiny')
    config_path = folder / 'tiny_deploy.py'
    cfg.dump(str(config_path))
    checkpoint = folder / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    return cfg, model, config_path, checkpoint


@pytest.fixture(scope='session')
def tiny_export(trained_tiny, tmp_path_factory) -> Path:
    """The export of :func:`trained_tiny`, traced at SIZE x SIZE."""
    cfg, model, _, _ = trained_tiny
    out = tmp_path_factory.mktemp('exports') / 'tiny'
    export_onnx(model, cfg, str(out), img_size=(SIZE, SIZE))
    return out


@pytest.fixture(scope='session')
def official():
    """``(fixture, model)`` of the official fixture (see tests.helpers)."""
    return official_fixture_model()


@pytest.fixture(scope='session')
def official_export(official, tmp_path_factory) -> Path:
    """The export of the official fixture's R50 weights (400 px)."""
    _, model = official
    out = tmp_path_factory.mktemp('exports') / 'r50'
    export_onnx(model, Config.fromfile(OFFICIAL_R50_CONFIG), str(out))
    return out
