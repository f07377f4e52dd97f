# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The config and argument setup shared by tools/train.py and test.py."""
import argparse
import os

import pytest

from hsnet_mm.utils import (ConfigValueTypeError, UnknownConfigKeyError,
                            add_runner_args, load_config, parse_runner_args,
                            use_multi_seed_test)

CONFIG = """
work_dir = None
test_cfg = dict(type='TestLoop', fp16=True)
test_dataloader = dict(
    num_workers=0, persistent_workers=True, dataset=dict(episode_seed=0))
train_dataloader = dict(num_workers=2, persistent_workers=True)
"""


def test_load_config(tmp_path, monkeypatch):
    path = tmp_path / 'my_cfg.py'
    path.write_text(CONFIG)
    monkeypatch.chdir(tmp_path)
    cfg = load_config(str(path), {'load_from': 'w.pth'})
    assert cfg.load_from == 'w.pth' and cfg.launcher == 'none'
    with pytest.raises(UnknownConfigKeyError, match="top-level key 'foo'"):
        load_config(str(path), dict(foo=1))  # a typo stops before any work
    with pytest.raises(ConfigValueTypeError, match='expected dict'):
        load_config(str(path), dict(test_dataloader=2))
    with pytest.raises(FileNotFoundError, match='config file not found'):
        load_config(str(tmp_path / 'nope.py'))
    assert cfg.work_dir == os.path.join('./work_dirs', 'my_cfg')
    # persistent workers need workers
    assert cfg.test_dataloader.persistent_workers is False
    assert cfg.train_dataloader.persistent_workers is True
    assert load_config(str(path), work_dir='wd').work_dir == 'wd'


def test_use_multi_seed_test(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text(CONFIG.replace('num_workers=0', 'num_workers=2'))
    cfg = load_config(str(path))
    use_multi_seed_test(cfg, [4, 2])
    assert cfg.test_cfg == dict(
        type='MultiSeedTestLoop', seeds=[4, 2], fp16=True)
    assert cfg.test_dataloader.dataset.episode_seed == 4
    assert cfg.test_dataloader.persistent_workers is False


def test_runner_args(monkeypatch):
    monkeypatch.setenv('LOCAL_RANK', '0')  # restored after the test
    monkeypatch.delenv('LOCAL_RANK')
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    args = parse_runner_args(parser, [
        '--launcher', 'pytorch', '--local-rank', '3', '--cfg-options', 'a.b=2'
    ])
    assert args.launcher == 'pytorch' and args.cfg_options == {'a.b': 2}
    assert os.environ['LOCAL_RANK'] == '3'


def test_test_config_helpers():
    from mmengine.config import Config

    from hsnet_mm.utils import (UserError, set_output_file,
                                use_episode_progress_bar,
                                use_episode_visualization)
    cfg = Config(
        dict(
            test_evaluator=[
                dict(type='FewShotMetric'),
                dict(type='IoUMetric')
            ],
            default_hooks=dict(
                logger=dict(type='LoggerHook', interval=50),
                visualization=dict(type='SegVisualizationHook'))))
    set_output_file(cfg, 'out.json')
    assert cfg.test_evaluator[0]['output_file'] == 'out.json'
    assert 'output_file' not in cfg.test_evaluator[1]
    with pytest.raises(UserError, match='--out needs a FewShotMetric'):
        set_output_file(Config(dict(test_evaluator=dict(type='X'))), 'o.json')
    use_episode_visualization(cfg, 'vis')
    assert cfg.default_hooks.visualization == dict(
        type='EpisodeVisualizationHook', draw=True, out_dir='vis')
    use_episode_progress_bar(cfg)
    assert cfg.custom_hooks == [dict(type='EpisodeProgressBarHook')]
    assert cfg.default_hooks.logger.interval > 10**9
