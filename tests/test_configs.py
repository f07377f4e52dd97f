# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Every shipped config builds: model, datasets, optimizer, one episode."""
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import hsnet_mm  # noqa: F401
# tiny generated benchmark trees (session fixtures)
from tests.helpers import REPO_ROOT

# the user-folder config is built by tests/test_folder_config.py
CONFIGS = sorted(
    p for p in (REPO_ROOT / 'configs' / 'hsnet').glob('*.py')
    if '_folder_' not in p.name)
_MODELS = {}


def test_the_paper_grid_is_shipped():
    names = {p.stem for p in CONFIGS}
    expected = {
        f'hsnet_{bb}_pascal5i_fold{f}_{k}shot'
        for bb in ('vgg16', 'r50', 'r101')
        for f in range(4)
        for k in (1, 5)
    } | {
        f'hsnet_{bb}_coco20i_fold{f}_{k}shot'
        for bb in ('r50', 'r101')
        for f in range(4)
        for k in (1, 5)
    } | {
        f'hsnet_{bb}_fss1000_{k}shot'
        for bb in ('vgg16', 'r50', 'r101')
        for k in (1, 5)
    } | {'hsnet_r18_synthetic_1shot'}
    assert names == expected


def build_model(cfg):
    key = str(cfg.model)
    if key not in _MODELS:
        _MODELS[key] = MODELS.build(cfg.model)
    return _MODELS[key]


@pytest.mark.parametrize('path', CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_builds(path: Path, request):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    init_default_scope('mmseg')
    name = path.stem
    roots = dict(
        pascal5i='pascal_root', coco20i='coco_root', fss1000='fss_root')
    bench = next((b for b in roots if f'_{b}_' in name), None)
    fold = int(name.split('fold')[1][0]) if 'fold' in name else 0
    shot = 5 if name.endswith('5shot') else 1
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        assert ds_cfg.fold == fold
        assert ds_cfg.shot == (1 if split == 'train' else shot)
        if bench is not None:
            ds_cfg.data_root = str(request.getfixturevalue(roots[bench]))
        dataset = DATASETS.build(ds_cfg)
        assert len(dataset) > 0
    episode = dataset[0]
    assert episode['inputs']['support_imgs'].shape[0] == shot
    if bench is not None:
        assert cfg.test_dataloader.dataset.episode_sampling == 'official'
        assert tuple(episode['inputs']['query_img'].shape) == (3, 400, 400)
    model = build_model(cfg)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert wrapper.optimizer.defaults['lr'] == 1e-3
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable
    if bench is not None:  # frozen ImageNet backbone, loaded by URL
        assert model.backbone.frozen
        assert cfg.model.backbone.init_cfg.checkpoint.startswith('https://')
