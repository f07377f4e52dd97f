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


def test_resume_without_a_valid_checkpoint_is_one_line(tiny_config, run_tool,
                                                       tmp_path):
    """Checkpoints, but none that can be resumed from: one line naming the
    work dir and what was found, exit 2, nothing trained."""
    (tmp_path / 'epoch_1.pth').write_text('not a checkpoint\n')
    (tmp_path / 'epoch_2.pth').write_bytes(b'PK\x03\x04 truncated')
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'epoch_2.pth'))
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(tmp_path), '--resume'
    ])
    assert proc.returncode == 2
    (line, ) = [x for x in proc.stderr.splitlines() if x.strip()]
    assert line.startswith('train.py: error: --resume: no checkpoint in '
                           f'{tmp_path} can be resumed from (found '
                           f'last_checkpoint ({tmp_path}/epoch_2.pth); '
                           'epoch_2.pth: it is not a PyTorch checkpoint')
    assert 'epoch_1.pth: it is not a PyTorch checkpoint' in line
    assert line.endswith('Remove --resume to train from scratch.')
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'epoch_1.pth', 'epoch_2.pth', 'last_checkpoint'
    ]


def test_resume_skips_an_overwritten_latest_checkpoint(trained, tiny_config,
                                                       run_tool, ok,
                                                       copy_work_dir):
    """4 KB of the latest checkpoint overwritten: its CRC-32 fails, the run
    resumes from the previous one and the warning names both."""
    work_dir = copy_work_dir(trained)
    good, bad = work_dir / 'epoch_2.pth', work_dir / 'epoch_3.pth'
    data = bytearray(good.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = bytes(range(256)) * 16
    bad.write_bytes(bytes(data))
    (work_dir / 'last_checkpoint').write_text(str(bad))
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(work_dir), '--resume'
    ])
    out = ok(proc) + proc.stderr
    assert f'broken: {bad}: it is corrupted: member' in out
    assert f'resuming from {good}, the newest valid checkpoint' in out
    assert 'resumed epoch: 2, iter: 8' in out


def test_load_from_another_models_weights(tiny_config, run_tool, ok, tmp_path):
    """Another model's weights (VGG-like keys, a mis-shaped conv1) as
    load_from: refused naming the keys, exit 2 (it used to train with
    size-mismatch warnings)."""
    foreign = tmp_path / 'vgg.pth'
    torch.save(
        dict(
            state_dict={
                'features.0.weight': torch.zeros(64, 3, 3, 3),
                'features.0.bias': torch.zeros(64),
                'backbone.conv1.weight': torch.zeros(64, 3, 3, 3)
            }), foreign)
    proc = run_tool([
        'tools/train.py',
        str(tiny_config), '--work-dir',
        str(tmp_path / 'refused'), '--cfg-options', f'load_from={foreign}'
    ])
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert f'checkpoint {foreign} does not match the model of the config:' \
        in proc.stderr
    assert '2 unexpected key(s): features.0.bias, features.0.weight' \
        in proc.stderr
    assert '1 shape mismatch(es): backbone.conv1.weight (checkpoint ' \
        '(64, 3, 3, 3), model (8, 3, 7, 7))' in proc.stderr
    assert 'missing key(s): ' in proc.stderr
    assert not list((tmp_path / 'refused').glob('*.pth'))


@pytest.mark.slow
def test_load_from_partial_trains_with_a_warning(tiny_config, run_tool, ok,
                                                 tmp_path):
    """The same weights with load_from_partial=True: the run trains,
    warning about the keys that do not match."""
    foreign = tmp_path / 'vgg.pth'
    torch.save(
        dict(
            state_dict={
                'features.0.weight': torch.zeros(64, 3, 3, 3),
                'backbone.conv1.weight': torch.zeros(64, 3, 3, 3)
            }), foreign)
    config = tmp_path / 'partial.py'
    config.write_text(f"_base_ = ['{tiny_config}']\n"
                      f"load_from = '{foreign}'\n"
                      'load_from_partial = True\n')
    proc = run_tool([
        'tools/train.py',
        str(config), '--work-dir',
        str(tmp_path / 'partial'), '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.dataset.num_episodes=2',
        'val_dataloader.dataset.num_episodes=2'
    ])
    out = ok(proc) + proc.stderr
    assert 'load_from_partial=True: loading the matching weights only' in out
    assert '1 unexpected key(s): features.0.weight' in out
    assert (tmp_path / 'partial' / 'epoch_1.pth').is_file()


def _train_main():
    """``main`` of tools/train.py, imported in this process (its errors are
    checked through ``call_cli``, the boundary ``run_cli`` runs)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'train_tool', HERE.parents[1] / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _one_error_line(capsys, code, *fragments):
    """Assert exit code 2 and one ``train.py: error:`` line on stderr."""
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and len(lines) == 1, (code, lines)
    assert lines[0].startswith('train.py: error: '), lines
    assert all(f in lines[0] for f in fragments), lines[0]


def test_work_dir_read_only_or_a_file_is_refused_first(tiny_config, tmp_path,
                                                       capsys):
    """A read-only --work-dir ended in mmengine's makedirs traceback
    (EROFS), a file named like it in a later FileExistsError."""
    from hsnet_mm.utils import call_cli
    from tests.read_only import read_only_folder
    main = _train_main()
    with read_only_folder(tmp_path / 'ro') as read_only:
        code = call_cli(
            main, [str(tiny_config), '--work-dir',
                   str(read_only / 'wd')],
            prog='train.py')
        _one_error_line(
            capsys, code, f'output {read_only}/wd cannot be '
            'written: no file can be created in')
    (tmp_path / 'wd').write_text('a file')
    for work_dir, message in ((tmp_path / 'wd', 'is a file, not a folder'),
                              (tmp_path / 'wd' / 'sub', 'cannot be created')):
        code = call_cli(
            main, [str(tiny_config), '--work-dir',
                   str(work_dir)],
            prog='train.py')
        _one_error_line(capsys, code, f'output folder {work_dir} ', message)


@pytest.mark.parametrize('option, fragments', [
    ('train_cfg.max_epochs=abc', ["train_cfg.max_epochs='abc': expected int"]),
    ('optim_wrapper.optimizer.lr=fast', ['expected float']),
    ('optimizer.lr=fast', ["did you mean 'optim_wrapper.optimizer.lr'?"]),
    ('model.backbone.norm_eval=yes',
     ["expected bool (HSNetResNet's default is False)"]),
    ('model.backbone.dpeth=50', ["no argument 'dpeth'; did you mean 'depth'"]),
    ('train_dataloader.dataset.num_episode=3',
     ["no argument 'num_episode'; did you mean 'num_episodes'?"]),
    ('default_hooks.chekpoint.interval=1', [
        "default_hooks.chekpoint.interval: there is no default hook "
        "'chekpoint'; did you mean 'checkpoint'?"
    ]),
])
def test_cfg_option_types_and_nested_typos(tiny_config, tmp_path, capsys,
                                           option, fragments):
    """One line naming the key (and the expected type or the likely key);
    default_hooks.chekpoint used to end in a KeyError not naming it."""
    from hsnet_mm.utils import call_cli
    code = call_cli(
        _train_main(), [
            str(tiny_config), '--work-dir',
            str(tmp_path / 'wd'), '--cfg-options', option
        ],
        prog='train.py')
    _one_error_line(capsys, code, f'--cfg-options {option.split("=")[0]}',
                    *fragments)
    assert not (tmp_path / 'wd').exists()


def test_disk_full_during_training(tiny_config, run_tool, tmp_path):
    """The disk fills after the first iteration: the next write (mmengine's
    scalars or log, or the checkpoint) ends the run in one line, exit 2 (it
    was a traceback). Needs a mountable tmpfs (root), skipped elsewhere."""
    from tests.mounts import small_tmpfs
    config = tmp_path / 'tiny_fill.py'
    config.write_text(
        f"_base_ = ['{tiny_config}']\n"
        "custom_imports = dict(imports=['hsnet_mm', 'fill_disk_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='FillDiskHook')]\n"
        'train_cfg = dict(max_epochs=1)\n')
    with small_tmpfs(tmp_path / 'disk', size='2m') as disk:
        proc = run_tool(
            ['tools/train.py',
             str(config), '--work-dir',
             str(disk / 'wd')],
            env=dict(PYTHONPATH=f'{HERE}:{os.environ.get("PYTHONPATH", "")}'))
        assert (disk / 'wd' / 'filler.bin').is_file()  # it did fill it
    errors = [
        line for line in proc.stderr.splitlines()
        if ': error: ' in line or 'Traceback' in line or 'Error' in line
    ]
    assert proc.returncode == 2 and len(errors) == 1, proc.stderr[-3000:]
    assert errors[0].startswith('train.py: error: no space left on device')
    assert 'Iter(train) [1/4]' in proc.stdout  # it failed while training
