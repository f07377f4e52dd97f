# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/train.py: train, save, resume, --amp on the CPU."""
import json
import math
import os
import signal
from pathlib import Path

import pytest
import torch

from hsnet_mm.utils import load_checkpoint_file

#: This folder, which holds ``kill_on_save_hook.py``.
HERE = Path(__file__).resolve().parent


def read_scalars(work_dir):
    """Records of every run of ``work_dir``, oldest run first."""
    records = []
    for log in sorted(work_dir.glob('*/vis_data/scalars.json')):
        records += [
            json.loads(line) for line in log.read_text().split('\n')
            if line.strip()
        ]
    return records


def test_train_saves_checkpoints_and_logs(trained):
    assert (trained / 'epoch_2.pth').is_file()
    assert not (trained / 'epoch_1.pth').exists()  # max_keep_ckpts=1
    assert len(list(trained.glob('best_mIoU_epoch_*.pth'))) == 1
    assert (trained /
            'last_checkpoint').read_text().strip().endswith('epoch_2.pth')
    ckpt = load_checkpoint_file(trained / 'epoch_2.pth')
    assert ckpt['meta']['epoch'] == 2 and ckpt['meta']['iter'] == 8
    # the official recipe: Adam, lr 1e-3, no weight decay, constant lr
    group = ckpt['optimizer']['param_groups'][0]
    assert (group['lr'], group['weight_decay']) == (1e-3, 0)
    records = read_scalars(trained)
    losses = [r for r in records if 'loss' in r]
    vals = [r for r in records if 'mIoU' in r]
    assert [r['step'] for r in losses] == list(range(1, 9))
    assert all(r['lr'] == 1e-3 for r in losses)
    # validation after every epoch, logged at the iteration (not the epoch)
    assert [r['step'] for r in vals] == [4, 8]
    assert all('FB-IoU' in r for r in vals)


def test_resume_continues_the_run(trained, tiny_config, run_tool, ok,
                                  copy_work_dir, tmp_path):
    """2 epochs, then --resume to 3, equals 3 epochs in one go."""
    work_dir = copy_work_dir(trained)
    out = ok(
        run_tool([
            'tools/train.py',
            str(tiny_config), '--work-dir',
            str(work_dir), '--resume', '--cfg-options',
            'train_cfg.max_epochs=3'
        ]))
    assert 'resumed epoch: 2, iter: 8' in out
    resumed = load_checkpoint_file(work_dir / 'epoch_3.pth')
    assert resumed['meta']['iter'] == 12
    # the new run logs iterations 9-12 only, in a new timestamp folder
    logs = sorted(work_dir.glob('*/vis_data/scalars.json'))
    assert len(logs) == 2
    records = [json.loads(x) for x in logs[-1].read_text().split('\n') if x]
    assert [r['step'] for r in records if 'loss' in r] == [9, 10, 11, 12]
    # Adam's state went on from the checkpoint: 12 steps, not 4
    state = next(iter(resumed['optimizer']['state'].values()))
    assert int(state['step']) == 12

    straight_dir = tmp_path / 'straight'
    ok(
        run_tool([
            'tools/train.py',
            str(tiny_config), '--work-dir',
            str(straight_dir), '--cfg-options', 'train_cfg.max_epochs=3'
        ]))
    straight = load_checkpoint_file(straight_dir / 'epoch_3.pth')
    assert straight['state_dict'].keys() == resumed['state_dict'].keys()
    for key, value in straight['state_dict'].items():
        torch.testing.assert_close(resumed['state_dict'][key], value, msg=key)


def test_amp_on_cpu_trains_under_bf16_autocast(tiny_config, run_tool, ok,
                                               tmp_path):
    if torch.cuda.is_available():
        pytest.skip('with CUDA --amp selects AmpOptimWrapper')
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(tmp_path), '--amp', '--cfg-options', 'train_cfg.max_epochs=1'
    ])
    out = ok(proc)
    assert 'CPU bfloat16 autocast' in out + proc.stderr
    assert "type='CPUAutocastOptimWrapper'" in out
    records = read_scalars(tmp_path)
    losses = [r['loss'] for r in records if 'loss' in r]
    assert len(losses) == 4 and all(math.isfinite(v) for v in losses)
    # its checkpoint is an OptimWrapper one: it resumes without --amp too
    ckpt = load_checkpoint_file(tmp_path / 'epoch_1.pth')
    assert 'loss_scaler' not in ckpt['optimizer']


def test_amp_refuses_other_optim_wrappers(tiny_config, run_tool, tmp_path):
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(tmp_path), '--amp', '--cfg-options',
        'optim_wrapper.type=ApexOptimWrapper'
    ])
    assert proc.returncode != 0
    assert '--amp is only supported when the optimizer wrapper type is ' \
        'OptimWrapper' in proc.stderr


@pytest.mark.slow
def test_kill_while_saving_a_checkpoint_then_resume(tiny_config, run_tool, ok,
                                                    tmp_path):
    """SIGKILL while epoch_3.pth is written: epoch_2.pth, the best checkpoint
    and last_checkpoint survive, and --resume goes on from epoch 2 (the old
    CheckpointHook had deleted epoch_2.pth first: FileNotFoundError)."""
    config = tmp_path / 'tiny_kill.py'
    config.write_text(
        f"_base_ = ['{tiny_config}']\n"
        "custom_imports = dict(imports=['hsnet_mm', 'kill_on_save_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='KillOnSaveHook', name='epoch_3.pth')]\n"
        'train_cfg = dict(max_epochs=3)\n')
    work_dir = tmp_path / 'work_dir'
    killed = run_tool(
        ['tools/train.py',
         str(config), '--work-dir',
         str(work_dir)],
        env=dict(PYTHONPATH=f'{HERE}:{os.environ.get("PYTHONPATH", "")}'))
    assert killed.returncode == -signal.SIGKILL
    files = sorted(p.name for p in work_dir.iterdir() if p.is_file())
    assert 'epoch_2.pth' in files
    assert load_checkpoint_file(work_dir / 'epoch_2.pth')['meta']['iter'] == 8
    assert len([f for f in files if f.startswith('best_mIoU_epoch_')]) == 1
    assert any(f.startswith('.epoch_3.pth.') for f in files)  # unfinished
    assert (work_dir / 'last_checkpoint').read_text().endswith('epoch_2.pth')

    out = ok(
        run_tool([
            'tools/train.py',
            str(tiny_config), '--work-dir',
            str(work_dir), '--resume', '--cfg-options',
            'train_cfg.max_epochs=3'
        ]))
    assert 'resumed epoch: 2, iter: 8' in out
    assert load_checkpoint_file(work_dir / 'epoch_3.pth')['meta']['iter'] == 12
    assert not [p for p in work_dir.iterdir() if p.name.endswith('.tmp')]
    assert len(list(work_dir.glob('best_mIoU_epoch_*.pth'))) == 1


def test_non_finite_loss_stops_training(tiny_config, run_tool, tmp_path):
    """An infinite learning rate makes the weights non-finite after the
    first step: the run stops at iteration 2 with the reason (it used to log
    ``loss: nan`` to the end and exit with 0), and saves no checkpoint."""
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(tmp_path), '--cfg-options', 'optim_wrapper.optimizer.lr=inf',
        'train_cfg.max_epochs=1'
    ])
    assert proc.returncode != 0
    assert 'FloatingPointError: non-finite training loss at epoch 1, ' \
        'iteration 2 (loss=nan' in proc.stderr
    assert not list(tmp_path.glob('*.pth'))


def test_config_typos_stop_before_any_work(tiny_config, run_tool, tmp_path):
    """More cases: tests/utils/test_config_check.py."""
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(tmp_path / 'wd'), '--cfg-options', 'model.foo=1'
    ])
    assert proc.returncode == 2
    assert "HSNet (model) has no argument 'foo'" in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'wd').exists()  # nothing written


def test_amp_dtype(tiny_config, run_tool, tmp_path):
    """--amp-dtype goes with --amp; float16 needs CUDA (one line, exit 2)."""
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(tmp_path), '--amp-dtype', 'bfloat16'
    ])
    assert proc.returncode == 2
    assert '--amp-dtype goes with --amp' in proc.stderr
    if torch.cuda.is_available():
        pytest.skip('float16 is the CUDA default')
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(tmp_path), '--amp', '--amp-dtype', 'float16'
    ])
    assert proc.returncode == 2
    assert 'float16 autocast needs CUDA' in proc.stderr
    assert 'Traceback' not in proc.stderr
