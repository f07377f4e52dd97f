# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
from mmengine.config import Config

from hsnet_mm.utils import (CheckpointMismatchError, check_checkpoint,
                            compare_state_dicts, load_state_dict)
from tests.helpers import tiny_hsnet_cfg

MODEL = tiny_hsnet_cfg()


@pytest.fixture(scope='module')
def cfg_and_state():
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    import hsnet_mm  # noqa: F401
    cfg = Config(dict(model=MODEL, default_scope='mmseg'))
    with DefaultScope.overwrite_default_scope('mmseg'):
        state = MODELS.build(cfg.model).state_dict()
    return cfg, state


def test_compare_state_dicts_lists_each_kind():
    expected = {'a': (2, ), 'b': (3, ), 'c': (1, )}
    state = {'a': torch.zeros(2), 'b': torch.zeros(4), 'd': torch.zeros(1)}
    lines = compare_state_dicts(expected, state)
    assert lines == [
        '1 missing key(s): c', '1 unexpected key(s): d',
        '1 shape mismatch(es): b (checkpoint (4,), model (3,))'
    ]
    assert compare_state_dicts(expected, {
        'a': torch.zeros(2),
        'b': torch.zeros(3),
        'c': torch.zeros(1)
    }) == []


def test_compare_state_dicts_shortens_long_lists():
    expected = {f'k{i:02d}': (1, ) for i in range(20)}
    (line, ) = compare_state_dicts(expected, {})
    assert line.startswith('20 missing key(s): k00, k01')
    assert line.endswith('... (12 more)')


def test_load_state_dict_forms(tmp_path):
    weights = {'module.a': torch.ones(2), 'b': torch.zeros(1)}
    torch.save(
        dict(state_dict=weights, meta=dict(epoch=1)), tmp_path / 'runner.pth')
    torch.save(weights, tmp_path / 'bare.pth')
    for name in ('runner.pth', 'bare.pth'):
        state = load_state_dict(str(tmp_path / name))
        assert sorted(state) == ['a', 'b']
    with pytest.raises(FileNotFoundError, match='not found'):
        load_state_dict(str(tmp_path / 'missing.pth'))
    torch.save(dict(meta=1), tmp_path / 'empty.pth')
    with pytest.raises(ValueError, match='holds no state dict'):
        load_state_dict(str(tmp_path / 'empty.pth'))


def test_check_checkpoint(cfg_and_state, tmp_path):
    cfg, state = cfg_and_state
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict=state), good)
    check_checkpoint(cfg, str(good))  # no error

    bad = dict(state)
    bad.pop('decode_head.conv_seg.bias')
    torch.save(dict(state_dict=bad), tmp_path / 'bad.pth')
    with pytest.raises(
            CheckpointMismatchError,
            match='missing key.*decode_head.conv_seg.bias'):
        check_checkpoint(cfg, str(tmp_path / 'bad.pth'))


def test_check_checkpoint_hints_at_the_converter(cfg_and_state, tmp_path):
    cfg, _ = cfg_and_state
    torch.save({'module.hpn_learner.decoder1.0.weight': torch.zeros(1)},
               tmp_path / 'official.pt')
    with pytest.raises(CheckpointMismatchError, match='hsnet2mmseg.py'):
        check_checkpoint(cfg, str(tmp_path / 'official.pt'))
