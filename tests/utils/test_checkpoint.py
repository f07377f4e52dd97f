# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Runner checkpoints load under torch's weights_only default."""
import pickle
from pathlib import Path

import pytest
import torch
from mmengine.runner import Runner, load_checkpoint
from mmengine.utils import digit_version

from hsnet_mm.utils import (load_checkpoint_file, register_safe_globals,
                            safe_globals)

HERE = Path(__file__).resolve().parent
WEIGHTS_ONLY_DEFAULT = digit_version(
    torch.__version__) >= digit_version('2.6.0')


@pytest.fixture
def toys(monkeypatch):
    """The toy Runner module of this folder."""
    monkeypatch.syspath_prepend(str(HERE))
    import runner_toys
    return runner_toys


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory):
    """A checkpoint of a toy Runner after 2 iterations of SGD."""
    import sys
    sys.path.insert(0, str(HERE))
    try:
        import runner_toys
    finally:
        sys.path.remove(str(HERE))
    work_dir = tmp_path_factory.mktemp('runner')
    runner = Runner(
        **runner_toys.toy_runner_kwargs(str(work_dir), 2, 'ckpt_save'))
    runner.train()
    return work_dir / 'iter_2.pth'


@pytest.fixture
def clean_safe_globals(monkeypatch):
    """No allow-listed globals during the test; restored afterwards."""
    if not hasattr(torch.serialization, 'add_safe_globals'):
        pytest.skip('torch < 2.4 has no add_safe_globals')
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    monkeypatch.setattr(safe_globals, '_registered', False)
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(saved)


def test_weights_only_load_needs_registration(runner_ckpt, clean_safe_globals):
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
        torch.load(runner_ckpt, weights_only=True)
    assert register_safe_globals() is True
    assert register_safe_globals() is True  # idempotent
    ckpt = torch.load(runner_ckpt, weights_only=True)
    assert set(ckpt) >= {'meta', 'state_dict', 'message_hub', 'optimizer'}
    buffer = ckpt['message_hub']['log_scalars']['train/lr']
    assert buffer.mean() == pytest.approx(0.01)  # statistics methods work
    assert ckpt['meta']['dataset_meta']['fold_class_ids'] == range(1)


def test_restricted_getattr_refuses_other_attributes(tmp_path,
                                                     clean_safe_globals):
    register_safe_globals()

    class Sneaky:

        def __reduce__(self):
            return getattr, (torch.Tensor, 'tolist')

    path = tmp_path / 'sneaky.pth'
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(ValueError, match='refusing getattr'):
        load_checkpoint_file(path)


@pytest.mark.skipif(
    not WEIGHTS_ONLY_DEFAULT, reason='torch < 2.6 loads everything')
def test_mmengine_load_and_resume(runner_ckpt, toys, tmp_path):
    register_safe_globals()
    model = toys.ToyModel()
    load_checkpoint(model, str(runner_ckpt), map_location='cpu')
    saved = load_checkpoint_file(runner_ckpt)['state_dict']
    torch.testing.assert_close(model.state_dict()['linear.weight'],
                               saved['linear.weight'])
    runner = Runner(
        **toys.toy_runner_kwargs(str(tmp_path), 3, 'ckpt_resume'),
        resume=True,
        load_from=str(runner_ckpt))
    runner.train()
    assert runner.iter == 3
    # The message hub came back: lr history of iterations 1-2 plus 3.
    lrs = runner.message_hub.get_scalar('train/lr').data[0]
    assert len(lrs) == 3


def test_load_checkpoint_file_errors(tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(missing)
    text = tmp_path / 'notes.txt'
    text.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='notes.txt is not a PyTorch'):
        load_checkpoint_file(text)
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='not a PyTorch checkpoint'):
        load_checkpoint_file(empty)
    tensor = tmp_path / 'tensor.pth'
    torch.save(torch.zeros(2), tensor)
    with pytest.raises(ValueError, match='Tensor, not a checkpoint dict'):
        load_checkpoint_file(tensor)
    state = tmp_path / 'state.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}}, state)
    assert load_checkpoint_file(state)['state_dict']['w'].item() == 1.0
