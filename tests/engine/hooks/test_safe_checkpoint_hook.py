# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""SafeCheckpointHook: kills and full disks during a save lose nothing.

A toy Runner (``tests/utils/runner_toys.py``) trains 6 iterations with a
checkpoint and a validation every 2; a scripted metric gives the val scores.
A kill is simulated where it hurts most: after the new file is written,
before it is renamed into place (the temporary file is left behind, as a
real kill leaves it).
"""
import os
import stat
import sys

import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.runner import Runner

import hsnet_mm.engine  # noqa: F401  (registers the hook and the backend)
from hsnet_mm.engine import pick_resume_checkpoint
from hsnet_mm.utils import NoSpaceError, fileio, load_checkpoint_file
from tests.helpers import REPO_ROOT
from tests.mounts import small_tmpfs

sys.path.insert(0, str(REPO_ROOT / 'tests' / 'utils'))
import runner_toys  # noqa: E402

sys.path.pop(0)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no cleanup either)."""


class ScriptedMetric(BaseMetric):
    """Returns ``score`` = the next of ``scores`` at each validation."""

    def __init__(self, scores, on_compute=None):
        super().__init__()
        self.scores, self.on_compute = list(scores), on_compute

    def process(self, data_batch, data_samples):
        self.results.append(0)

    def compute_metrics(self, results):
        if self.on_compute is not None:
            self.on_compute()
        return dict(score=self.scores.pop(0))


_RUNS = [0]


def make_runner(work_dir,
                scores,
                max_iters=6,
                resume=False,
                out_dir=None,
                on_compute=None):
    _RUNS[0] += 1
    kwargs = runner_toys.toy_runner_kwargs(
        str(work_dir), max_iters, f'safe_ckpt_{_RUNS[0]}')
    kwargs['train_cfg'] = dict(
        by_epoch=False, max_iters=max_iters, val_interval=2)
    kwargs['default_hooks']['checkpoint'] = dict(
        type='SafeCheckpointHook',
        by_epoch=False,
        interval=2,
        max_keep_ckpts=1,
        save_best='score',
        rule='greater',
        out_dir=out_dir)
    kwargs.update(
        val_dataloader=dict(
            dataset=runner_toys.ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=4,
            num_workers=0),
        val_cfg=dict(),
        val_evaluator=Evaluator([ScriptedMetric(scores, on_compute)]),
        resume=resume,
        default_scope='mmseg',
        load_from=pick_resume_checkpoint(str(work_dir)) if resume else None)
    return Runner(**kwargs)


def kill_at(monkeypatch, name, nth=1):
    """Die the ``nth`` time a file named ``name`` is about to be renamed
    into place, leaving its complete temporary file."""
    real = fileio.commit_temp_file
    calls = []

    def commit(tmp_path, path):
        if os.path.basename(path) == name:
            calls.append(path)
            if len(calls) == nth:  # a real kill leaves the temporary file
                os.link(tmp_path, tmp_path[:-len('.tmp')] + '-left.tmp')
                raise Killed(path)
        return real(tmp_path, path)

    monkeypatch.setattr(fileio, 'commit_temp_file', commit)


def names(folder):
    return sorted(os.listdir(folder))


def hub_info(path):
    return load_checkpoint_file(path)['message_hub']['runtime_info']


def test_files_of_a_normal_run(tmp_path):
    old = os.umask(0o022)
    try:
        make_runner(tmp_path, [0.5, 0.9, 0.7]).train()
    finally:
        os.umask(old)
    ckpts = [n for n in names(tmp_path) if n.endswith('.pth')]
    assert ckpts == ['best_score_iter_4.pth', 'iter_6.pth']
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path /
                                                             'iter_6.pth')
    assert not [n for n in names(tmp_path) if n.endswith('.tmp')]
    for name in ckpts:  # readable by the group and others, as open() makes
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o644
    info = hub_info(tmp_path / 'iter_6.pth')
    assert info['best_score'] == 0.9 and info['keep_ckpt_ids'] == [6]


def test_kill_while_saving_the_next_checkpoint_keeps_the_previous(
        tmp_path, monkeypatch):
    """The base hook deleted iter_2.pth before iter_4.pth was complete."""
    kill_at(monkeypatch, 'iter_4.pth')
    with pytest.raises(Killed):
        make_runner(tmp_path, [0.5, 0.9, 0.7]).train()
    monkeypatch.undo()
    assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path /
                                                             'iter_2.pth')
    assert load_checkpoint_file(tmp_path / 'iter_2.pth')['meta']['iter'] == 2
    assert [n for n in names(tmp_path) if n.startswith('.iter_4.pth.')]
    runner = make_runner(tmp_path, [0.9, 0.7], resume=True)
    runner.train()
    assert runner.iter == 6
    ckpts = [n for n in names(tmp_path) if n.endswith(('.pth', '.tmp'))]
    assert ckpts == ['best_score_iter_4.pth', 'iter_6.pth']  # tmp removed


def test_kill_after_a_new_best_keeps_the_best(tmp_path, monkeypatch):
    """Killed after best_score_iter_4.pth is written, while iter_4.pth is
    rewritten to record it: the resumed run must not let iteration 6
    (0.7, worse than 0.9) become the best."""
    kill_at(monkeypatch, 'iter_4.pth', nth=2)
    with pytest.raises(Killed):
        make_runner(tmp_path, [0.5, 0.9, 0.7]).train()
    monkeypatch.undo()
    assert (tmp_path / 'best_score_iter_4.pth').is_file()
    assert (tmp_path / 'best_score_iter_2.pth').is_file()  # not yet removed
    assert hub_info(tmp_path / 'iter_4.pth')['best_score'] == 0.5
    make_runner(tmp_path, [0.7], resume=True).train()
    ckpts = [n for n in names(tmp_path) if n.endswith('.pth')]
    assert ckpts == ['best_score_iter_4.pth', 'iter_6.pth']
    assert hub_info(tmp_path / 'iter_6.pth')['best_score'] == 0.9


def test_full_disk_keeps_the_previous_checkpoint(tmp_path):
    with small_tmpfs(tmp_path / 'fs', '1m') as fs:

        def fill_disk():  # at the first validation, after iter_2 is saved
            free = os.statvfs(fs).f_bavail * os.statvfs(fs).f_frsize
            (fs / 'filler').write_bytes(bytes(max(free - 512, 0)))

        runner = make_runner(
            tmp_path / 'work', [0.5, 0.9],
            out_dir=str(fs),
            on_compute=fill_disk)
        with pytest.raises(NoSpaceError) as err:
            runner.train()
        out = fs / 'work'
        message = str(err.value)
        assert 'no space left on device' in message
        assert str(out / 'best_score_iter_2.pth') in message
        assert 'bytes' in message and 'partial file was removed' in message
        assert 'previous best checkpoint is kept: None' in message
        assert names(out) == ['iter_2.pth']  # complete, no partial file
        assert load_checkpoint_file(out / 'iter_2.pth')['meta']['iter'] == 2
        os.remove(fs / 'filler')


def test_full_disk_simulated(tmp_path, monkeypatch):
    """The same where no file system can be mounted: the epoch save."""
    runner = make_runner(tmp_path, [0.5, 0.9])
    real = fileio.commit_temp_file

    def commit(tmp_path_, path):
        if os.path.basename(path) == 'iter_4.pth':
            raise OSError(28, 'No space left on device')
        return real(tmp_path_, path)

    monkeypatch.setattr(fileio, 'commit_temp_file', commit)
    with pytest.raises(NoSpaceError) as err:
        runner.train()
    message = str(err.value)
    assert str(tmp_path / 'iter_4.pth') in message
    assert f'previous checkpoint is kept: {tmp_path / "iter_2.pth"}' in message
    assert [n for n in names(tmp_path) if n.endswith(('.pth', '.tmp'))
            ] == ['best_score_iter_2.pth', 'iter_2.pth']
    assert torch.isfinite(
        load_checkpoint_file(
            tmp_path / 'iter_2.pth')['state_dict']['linear.weight']).all()
