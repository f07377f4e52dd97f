# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import os

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


def test_non_finite_checkpoints_are_refused_naming_the_tensors(
        cfg_and_state, tmp_path):
    from hsnet_mm.apis import init_model
    from hsnet_mm.utils import NonFiniteCheckpointError, check_finite
    cfg, state = cfg_and_state
    state = {k: v.clone() for k, v in state.items()}
    key = 'decode_head.conv_seg.weight'
    state[key].view(-1)[:3] = float('nan')
    state[key].view(-1)[3] = float('inf')
    path = tmp_path / 'nan.pth'
    torch.save(dict(state_dict=state), path)
    expected = f'{key} (3 NaN, 1 inf of {state[key].numel()})'
    for load in (lambda: check_checkpoint(cfg, str(path)),
                 lambda: init_model(cfg, str(path))):
        with pytest.raises(NonFiniteCheckpointError) as err:
            load()
        assert str(path) in str(err.value) and expected in str(err.value)
    check_finite({'n': torch.tensor([1, 2]), 'x': torch.ones(2)}, 'ok')


@pytest.mark.parametrize('depth', [18, 50])
def test_meta_device_skeleton_has_the_cpu_shapes(depth):
    """check_checkpoint reads key shapes from a build on the meta device
    (no memory, no init); they equal a real CPU build's."""
    from hsnet_mm.utils import build_model_skeleton, state_dict_shapes
    model = dict(MODEL)
    model['backbone'] = dict(model['backbone'], depth=depth)
    if depth == 50:
        model['encoder'] = dict(model['encoder'], in_channels=(3, 6, 4))
    cfg = Config(dict(model=model, default_scope='mmseg'))
    meta = build_model_skeleton(cfg, device='meta')
    assert all(p.is_meta for p in meta.parameters())
    assert state_dict_shapes(meta) == state_dict_shapes(
        build_model_skeleton(cfg))


@pytest.fixture(scope='module')
def r50_checkpoint(tmp_path_factory):
    """Weights of another model (a ResNet-50 backbone) for the R18 one."""
    from hsnet_mm.utils import build_model_skeleton
    model = dict(MODEL)
    model['backbone'] = dict(model['backbone'], depth=50)
    model['encoder'] = dict(model['encoder'], in_channels=(3, 6, 4))
    cfg = Config(dict(model=model, default_scope='mmseg'))
    path = tmp_path_factory.mktemp('r50') / 'r50.pth'
    torch.save(dict(state_dict=build_model_skeleton(cfg).state_dict()), path)
    return path


def test_one_rule_for_another_models_weights(cfg_and_state, r50_checkpoint,
                                             monkeypatch):
    """tools/test.py (check_checkpoint), train.py's load_from
    (check_load_from) and init_model refuse another model's weights, naming
    the keys, unless load_from_partial=True: then a warning lists them and
    the matching weights load."""
    from hsnet_mm.apis import init_model
    from hsnet_mm.utils import checkpoint
    cfg, _ = cfg_and_state
    path = str(r50_checkpoint)
    train_cfg = Config(dict(cfg.to_dict(), load_from=path))
    for load in (lambda: check_checkpoint(cfg, path),
                 lambda: checkpoint.check_load_from(train_cfg),
                 lambda: init_model(cfg, path)):
        with pytest.raises(CheckpointMismatchError) as err:
            load()
        message = str(err.value)
        assert f'checkpoint {path} does not match' in message
        assert '198 unexpected key(s): backbone.layer1.0.bn3.bias' in message
        assert 'shape mismatch(es): ' in message and 'more)' in message
        assert 'set load_from_partial=True in the config' in message

    warned = []
    monkeypatch.setattr(checkpoint, 'print_log',
                        lambda msg, **kwargs: warned.append(msg))
    partial = Config(dict(train_cfg.to_dict(), load_from_partial=True))
    checkpoint.check_load_from(partial)
    check_checkpoint(cfg, path, partial=True)
    model = init_model(partial, path)
    assert len(warned) == 3
    assert all('load_from_partial=True: loading the matching weights only' in w
               and 'shape mismatch(es)' in w for w in warned)
    saved = torch.load(path, weights_only=True)['state_dict']
    key = 'backbone.conv1.weight'  # the same shape in both models
    torch.testing.assert_close(model.state_dict()[key], saved[key])
    key = 'backbone.layer1.0.conv1.weight'  # 1x1 in R50, 3x3 in R18
    assert model.state_dict()[key].shape != saved[key].shape


class _RunsACommand:
    """Pickles as a call of ``os.system``: only ever loaded weights_only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def test_every_loader_names_a_refused_global(cfg_and_state, tmp_path):
    from hsnet_mm.apis import init_model
    from hsnet_mm.utils import InvalidCheckpointError
    from hsnet_mm.utils.checkpoint import check_load_from
    cfg, _ = cfg_and_state
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    torch.save(
        dict(state_dict={'w': torch.ones(1)}, x=_RunsACommand(marker)), path)
    train_cfg = Config(dict(cfg.to_dict(), load_from=str(path)))
    for load in (lambda: check_checkpoint(cfg, str(path)),
                 lambda: check_load_from(train_cfg),
                 lambda: init_model(cfg, str(path))):
        with pytest.raises(
                InvalidCheckpointError,
                match=f'{path}: refused: it would import '
                'posix.system'):
            load()
    assert not marker.exists()
