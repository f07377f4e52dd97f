# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""pick_resume_checkpoint: the newest checkpoint that loads, whatever
``last_checkpoint`` says."""
import os

import pytest
import torch

from hsnet_mm.engine import resume
from hsnet_mm.engine.resume import (NoValidCheckpointError,
                                    pick_resume_checkpoint)


def _save(path, value=1.0):
    torch.save(
        dict(
            meta=dict(epoch=1),
            state_dict=dict(w=torch.full((4, ), value)),
            message_hub=dict(runtime_info={}),
            optimizer={}), path)
    return path


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(resume, 'print_log',
                        lambda msg, **kwargs: seen.append(msg))
    return seen


def test_a_sound_work_dir_resumes_silently(tmp_path, warnings):
    _save(tmp_path / 'epoch_1.pth')
    last = _save(tmp_path / 'epoch_2.pth')
    (tmp_path / 'last_checkpoint').write_text(str(last))
    assert pick_resume_checkpoint(str(tmp_path)) == str(last)
    assert warnings == []


def test_a_truncated_latest_falls_back_naming_both(tmp_path, warnings):
    good = _save(tmp_path / 'epoch_2.pth')
    bad = _save(tmp_path / 'epoch_3.pth')
    data = bad.read_bytes()
    bad.write_bytes(data[:len(data) // 2])  # killed while writing
    (tmp_path / 'last_checkpoint').write_text(str(bad))
    assert pick_resume_checkpoint(str(tmp_path)) == str(good)
    (message, ) = warnings
    assert str(bad) in message and f'resuming from {good}' in message


@pytest.mark.parametrize('record', ['', 'stale', 'moved', None])
def test_last_checkpoint_empty_stale_moved_or_missing(tmp_path, warnings,
                                                      record):
    """The old CheckpointHook deleted epoch_2 before epoch_3 was complete:
    ``last_checkpoint`` then named a deleted file (FileNotFoundError)."""
    good = _save(tmp_path / 'epoch_3.pth')
    text = dict(
        stale=str(tmp_path / 'epoch_2.pth'),
        moved='/somewhere/else/work_dir/epoch_3.pth').get(record, record)
    if text is not None:
        (tmp_path / 'last_checkpoint').write_text(text)
    assert pick_resume_checkpoint(str(tmp_path)) == str(good)
    assert bool(warnings) == (record != 'moved')


def test_non_finite_and_foreign_checkpoints_are_skipped(tmp_path, warnings):
    good = _save(tmp_path / 'epoch_1.pth')
    _save(tmp_path / 'epoch_2.pth', float('nan'))
    torch.save(
        dict(state_dict=dict(w=torch.ones(1))), tmp_path / 'epoch_3.pth')
    assert pick_resume_checkpoint(str(tmp_path)) == str(good)
    assert 'epoch_2.pth: it holds non-finite' in warnings[0]
    assert 'epoch_3.pth: it has no meta, message_hub' in warnings[0]


def test_no_valid_checkpoint_is_an_error(tmp_path):
    (tmp_path / 'epoch_1.pth').write_bytes(b'PK\x03\x04 truncated')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_1.pth'))
    with pytest.raises(NoValidCheckpointError, match='epoch_1.pth') as err:
        pick_resume_checkpoint(str(tmp_path))
    assert 'Remove --resume to train from scratch' in str(err.value)
    (tmp_path / 'epoch_1.pth').unlink()
    with pytest.raises(NoValidCheckpointError, match='stale last_check'):
        pick_resume_checkpoint(str(tmp_path))


def test_a_fresh_work_dir_trains_from_scratch(tmp_path):
    assert pick_resume_checkpoint(str(tmp_path)) is None
    assert pick_resume_checkpoint(str(tmp_path / 'missing')) is None


def _save_with_optimizer(path, exp_avg):
    """A checkpoint whose optimizer state (``exp_avg``, 64 KB) fills the
    middle of the file."""
    torch.save(
        dict(
            meta=dict(epoch=1),
            state_dict=dict(w=torch.ones(4)),
            message_hub=dict(runtime_info={}),
            optimizer=dict(
                state={0: dict(step=torch.tensor(3.), exp_avg=exp_avg)},
                param_groups=[dict(lr=1e-3, params=[0])])), path)
    return path


def test_overwritten_bytes_fall_back_naming_both(tmp_path, warnings):
    """4 KB overwritten in the middle of the latest checkpoint (its
    optimizer state) with finite values: torch.load reads the file without
    error, only the members' CRC-32 shows the change."""
    good = _save_with_optimizer(tmp_path / 'epoch_2.pth', torch.zeros(16384))
    bad = _save_with_optimizer(tmp_path / 'epoch_3.pth', torch.zeros(16384))
    data = bytearray(bad.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = torch.full((1024, ), 7.0).numpy().tobytes()
    bad.write_bytes(bytes(data))
    (tmp_path / 'last_checkpoint').write_text(str(bad))
    loaded = torch.load(bad, weights_only=False)  # a file we just wrote
    assert loaded['optimizer']['state'][0]['exp_avg'].max() == 7.0
    assert pick_resume_checkpoint(str(tmp_path)) == str(good)
    (message, ) = warnings
    assert f'broken: {bad}: it is corrupted: member epoch_3/data/' in message
    assert 'does not match the CRC-32' in message
    assert f'resuming from {good}' in message


def test_non_finite_optimizer_state_falls_back(tmp_path, warnings):
    good = _save_with_optimizer(tmp_path / 'epoch_2.pth', torch.zeros(8))
    bad = _save_with_optimizer(tmp_path / 'epoch_3.pth',
                               torch.tensor([0., float('nan'), 1., 2.]))
    assert pick_resume_checkpoint(str(tmp_path)) == str(good)
    (message, ) = warnings
    assert f'broken: {bad}: it holds non-finite values' in message
    assert 'optimizer.state.0.exp_avg (1 NaN, 0 inf of 4)' in message
    assert f'resuming from {good}' in message


def test_a_pickle_importing_a_blocked_module_is_named(tmp_path, warnings):
    """Never executed: weights_only loading only (it would create a file)."""
    good = _save(tmp_path / 'epoch_1.pth')
    marker = tmp_path / 'ran'

    class Evil:

        def __reduce__(self):
            return os.system, (f'touch {marker}', )

    torch.save(
        dict(meta={}, state_dict={}, x=Evil()), tmp_path / 'epoch_2.pth')
    assert pick_resume_checkpoint(str(tmp_path)) == str(good)
    assert 'epoch_2.pth: refused: it would import posix.system' in warnings[0]
    assert not marker.exists()


def test_no_valid_checkpoint_message_is_one_line(tmp_path):
    for n in (1, 2):
        (tmp_path / f'epoch_{n}.pth').write_text('x\n' * 500)
    with pytest.raises(NoValidCheckpointError) as err:
        pick_resume_checkpoint(str(tmp_path))
    text = str(err.value)
    assert '\n' not in text and str(tmp_path) in text
    assert 'epoch_2.pth: it is not a PyTorch checkpoint' in text
    assert text.index('epoch_2.pth') < text.index('epoch_1.pth')
