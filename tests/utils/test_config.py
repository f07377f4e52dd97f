# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
from mmengine.config import Config

from hsnet_mm.utils import (apply_global_batch_size,
                            drop_persistent_workers_without_workers,
                            launcher_world_size, use_original_size_protocol)
from tests.helpers import REPO_ROOT


def pascal_cfg():
    return Config.fromfile(REPO_ROOT /
                           'configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py')


@pytest.mark.parametrize('world,per', [(1, 20), (4, 5), (2, 10)])
def test_global_batch_split(world, per):
    cfg = pascal_cfg()
    assert apply_global_batch_size(cfg, world) == per
    assert cfg.train_dataloader.batch_size == per


def test_global_batch_errors_and_opt_out():
    cfg = pascal_cfg()
    with pytest.raises(ValueError, match='does not divide over 3'):
        apply_global_batch_size(cfg, 3)
    cfg.global_batch_size = None
    cfg.train_dataloader.batch_size = 7
    assert apply_global_batch_size(cfg, 4) is None
    assert cfg.train_dataloader.batch_size == 7


def test_world_size_from_launcher(monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', '4')
    monkeypatch.setenv('SLURM_NTASKS', '8')
    assert launcher_world_size('none') == 1
    assert launcher_world_size('pytorch') == 4
    assert launcher_world_size('slurm') == 8


def test_workers_and_original_size():
    cfg = pascal_cfg()
    cfg.test_dataloader.num_workers = 0
    drop_persistent_workers_without_workers(cfg)
    assert cfg.test_dataloader.persistent_workers is False
    assert cfg.train_dataloader.persistent_workers is True
    use_original_size_protocol(cfg)
    assert 'output_size' not in cfg.model.get('test_cfg', {})
    resize = [
        t for t in cfg.test_dataloader.dataset.pipeline
        if t.type == 'ResizeEpisode'
    ]
    assert resize and all(t.keep_query_gt_original for t in resize)
    cfg.test_dataloader.dataset.pipeline = []
    with pytest.raises(ValueError, match='ResizeEpisode'):
        use_original_size_protocol(cfg)
