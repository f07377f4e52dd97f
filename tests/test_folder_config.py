# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""configs/hsnet/hsnet_r50_folder_1shot.py builds on a user folder."""
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS

import hsnet_mm  # noqa: F401
from tests.helpers import REPO_ROOT

CONFIG = REPO_ROOT / 'configs' / 'hsnet' / 'hsnet_r50_folder_1shot.py'


def test_folder_config_binary_and_index(folder_root):
    cfg = Config.fromfile(CONFIG)
    assert cfg.default_scope == 'mmseg'
    assert set(cfg._cfg_dict.keys()) >= {'train_dataloader', 'model'}
    init_default_scope('mmseg')
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        assert ds_cfg.type == 'FolderFewShotDataset' and ds_cfg.shot == 1
        ds_cfg.data_root = str(folder_root / 'binary')
        dataset = DATASETS.build(ds_cfg)
        assert dataset.metainfo['classes'] == ('object', )
    episode = dataset[0]
    assert tuple(episode['inputs']['query_img'].shape) == (3, 400, 400)
    # index masks, held-out test class
    ds_cfg = cfg.test_dataloader.dataset
    ds_cfg.update(
        data_root=str(folder_root / 'index'),
        classes={
            'a': 10,
            'b': 20,
            'c': 30
        },
        train_classes=['a', 'b'],
        test_classes=['c'])
    test = DATASETS.build(ds_cfg)
    assert list(test.metainfo['fold_class_ids']) == [2]
    cfg.model.backbone.init_cfg = None  # no download
    model = MODELS.build(cfg.model)
    assert model.backbone.frozen
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert wrapper.optimizer.defaults['lr'] == 1e-3
    assert cfg.train_cfg.max_epochs == 100
