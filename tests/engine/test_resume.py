# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""pick_resume_checkpoint: the newest checkpoint that loads, whatever
``last_checkpoint`` says."""
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
