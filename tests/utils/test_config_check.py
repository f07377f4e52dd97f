# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""check_config_keys: --cfg-options typos and misspelled top-level keys."""
import pytest
from mmengine.config import Config

import hsnet_mm  # noqa: F401  (registers the components it checks)
from hsnet_mm.utils import (ConfigValueTypeError, UnknownConfigKeyError,
                            check_config_keys, check_option_types)
from tests.helpers import REPO_ROOT

CONFIG = str(REPO_ROOT / 'configs/hsnet/hsnet_r18_synthetic_1shot.py')


def _check(options):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(options)
    check_config_keys(cfg, options)


@pytest.mark.parametrize('key, message', [
    ('model.foo', "HSNet (model) has no argument 'foo'"),
    ('model.backbone.depht', "did you mean 'depth'?"),
    ('test_dataloder.batch_size',
     "no component reads the top-level key 'test_dataloder'; did you mean "
     "'test_dataloader'?"),
    ('train_cfg.max_epoch', "EpochBasedTrainLoop (train_cfg) has no "
     "argument 'max_epoch'; did you mean 'max_epochs'?"),
    ('train_dataloader.batch_sze', "DataLoader (train_dataloader)"),
    ('val_dataloader.dataset.num_episode', "did you mean 'num_episodes'?"),
    ('test_dataloader.dataset.pipeline.1.scal',
     "ResizeEpisode (test_dataloader.dataset.pipeline.1)"),
    ('default_hooks.logger.intervall', "did you mean 'interval'?"),
])
def test_unknown_keys_are_named(key, message):
    with pytest.raises(UnknownConfigKeyError) as err:
        _check({key: 1})
    assert message in str(err.value) and f'--cfg-options {key}' in str(
        err.value)


def test_known_keys_pass():
    _check({
        'train_cfg.max_epochs': 3,
        'train_dataloader.num_workers': 0,
        'val_dataloader.dataset.num_episodes': 4,
        'default_hooks.check_loss.enabled': False,
        'default_hooks.checkpoint.interval': 2,
        'model.backbone.depth': 50,
        'model.test_cfg.mode': 'whole',  # a plain dict: not checked
        'optim_wrapper.optimizer.lr': 1e-4,
        'env_cfg.dist_cfg.backend': 'gloo',
        'global_batch_size': 4,
        'randomness.seed': 1,
        'img_size': 64,  # defined by a base config
    })


def test_misspelled_top_level_key_in_a_config_file(tmp_path):
    path = tmp_path / 'typo.py'
    path.write_text(f"_base_ = ['{CONFIG}']\n"
                    "test_dataloder = dict(batch_size=1)\n"
                    "my_helper_variable = 3\n")
    with pytest.raises(
            UnknownConfigKeyError,
            match="'test_dataloder' \\(did you mean "
            "'test_dataloader'\\?\\)"):
        check_config_keys(Config.fromfile(str(path)))
    path.write_text(f"_base_ = ['{CONFIG}']\nmy_helper_variable = 3\n")
    check_config_keys(Config.fromfile(str(path)))  # helpers are fine


@pytest.mark.parametrize('key, message', [
    ('default_hooks.chekpoint.interval',
     "there is no default hook 'chekpoint'; did you mean 'checkpoint'?"),
    ('default_hooks.checkpoint.intreval',
     "SafeCheckpointHook (default_hooks.checkpoint) has no argument "
     "'intreval'; did you mean 'interval'?"),
    ('optimizer.lr', "no component reads the top-level key 'optimizer'; did "
     "you mean 'optim_wrapper.optimizer.lr'?"),
])
def test_nested_typos_are_named_with_the_intended_key(key, message):
    """default_hooks.chekpoint ended in a KeyError that never named it;
    checkpoint.intreval in a TypeError of Runner.save_checkpoint."""
    with pytest.raises(UnknownConfigKeyError) as err:
        _check({key: 1})
    assert message in str(err.value)
    assert str(err.value).startswith(f'--cfg-options {key}: ')


def test_hook_arguments_forwarded_to_save_checkpoint_pass():
    _check({
        'default_hooks.checkpoint.save_optimizer': False,
        'default_hooks.check_loss': None,  # a default hook turned off
        'default_hooks.extra.type': 'LoggerHook',  # a new hook
        'default_hooks.extra.interval': 3,
    })


def test_a_typo_in_the_config_file_default_hooks(tmp_path):
    path = tmp_path / 'typo.py'
    path.write_text(f"_base_ = ['{CONFIG}']\n"
                    'default_hooks = dict(chekpoint=dict(interval=1))\n')
    with pytest.raises(
            UnknownConfigKeyError,
            match=f"config {path}: there is no default hook "
            "'chekpoint'; did you mean 'checkpoint'"):
        check_config_keys(Config.fromfile(str(path)))


@pytest.mark.parametrize('option, message', [
    ({
        'train_cfg.max_epochs': 'abc'
    }, "train_cfg.max_epochs='abc': expected int (the config has"),
    ({
        'optim_wrapper.optimizer.lr': 'fast'
    }, "optim_wrapper.optimizer.lr='fast': expected float (the config has"),
    ({
        'model.backbone.norm_eval': 'yes'
    }, "model.backbone.norm_eval='yes': expected bool (HSNetResNet's default "
     'is False), got str'),
    ({
        'train_dataloader.pin_memory': 3
    }, "expected bool (DataLoader's default is False), got int"),
])
def test_wrong_types_of_keys_the_config_leaves_out(option, message):
    """A key missing from the config is checked against the default of the
    component that takes it."""
    cfg = Config.fromfile(CONFIG)
    with pytest.raises(ConfigValueTypeError) as err:
        check_option_types(cfg, option)
    assert message in str(err.value)
    check_option_types(cfg, {'model.backbone.norm_eval': True})
