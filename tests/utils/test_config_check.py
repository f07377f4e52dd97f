# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""check_config_keys: --cfg-options typos and misspelled top-level keys."""
import pytest
from mmengine.config import Config

import hsnet_mm  # noqa: F401  (registers the components it checks)
from hsnet_mm.utils import UnknownConfigKeyError, check_config_keys
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
