# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""dist_test.sh / dist_train.sh with 2 CPU processes (gloo), and the
invariance of the test results to batch size, workers and ranks."""
import json
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

#: pixels of an episode that float rounding may flip at exact ties
TIE_PIXELS = 8

#: This folder, which holds ``rank_weights_hook.py``.
HERE = Path(__file__).resolve().parent


def episodes_of(path):
    data = json.loads(path.read_text())
    return data['metrics'], data['episodes']


def test_results_do_not_depend_on_batch_workers_or_ranks(
        tiny_config, calibrated_checkpoint, run_tool, ok, port, tmp_path):
    runs = {
        'batch 1, 0 workers':
        ['test_dataloader.batch_size=1', 'test_dataloader.num_workers=0'],
        'batch 4, 2 workers':
        ['test_dataloader.batch_size=4', 'test_dataloader.num_workers=2'],
    }
    results = {}
    for name, options in runs.items():
        out = tmp_path / f'{len(results)}.json'
        stdout = ok(
            run_tool([
                'tools/test.py',
                str(tiny_config),
                str(calibrated_checkpoint), '--work-dir',
                str(tmp_path / 'wd'), '--out',
                str(out), '--cfg-options', *options
            ]))
        results[name] = (episodes_of(out), stdout.strip().split('\n')[-1])
    out = tmp_path / 'dist.json'
    stdout = ok(
        run_tool([
            'bash', 'tools/dist_test.sh',
            str(tiny_config),
            str(calibrated_checkpoint), '2', '--work-dir',
            str(tmp_path / 'wd'), '--out',
            str(out)
        ],
                 env=dict(PORT=str(port()))))
    summaries = [
        line for line in stdout.split('\n') if line.startswith('mIoU: ')
    ]
    assert len(summaries) == 1  # printed by rank 0 only
    results['2 processes (gloo), batch 2'] = (episodes_of(out), summaries[0])

    (ref_metrics, ref_episodes), ref_line = results.pop('batch 1, 0 workers')
    assert len(ref_episodes) == 11  # 2 ranks: one padded duplicate
    assert 0 < ref_metrics['mIoU'] < 100
    for name, ((metrics, episodes), line) in results.items():
        # The same episodes in the same order, each scored alike. oneDNN's
        # convs are not bitwise batch-invariant (batch 4 vs 1: ~1e-7 on the
        # logits, on the released code too), which can flip a pixel at an
        # exact tie of this calibrated model: a few pixels of an episode's
        # 64 x 64, not the thousands a wrong episode or order would change.
        assert len(episodes) == len(ref_episodes), name
        for got, want in zip(episodes, ref_episodes):
            areas = ('I_bg', 'I_fg', 'U_bg', 'U_fg')
            assert ({
                k: v
                for k, v in got.items() if k not in areas
            } == {
                k: v
                for k, v in want.items() if k not in areas
            }), name
            for key in areas:
                assert abs(got[key] - want[key]) <= TIE_PIXELS, (name, key)
        for key in ('mIoU', 'FB-IoU'):
            assert metrics[key] == pytest.approx(
                ref_metrics[key], abs=0.05), name
        assert line.split('(')[1] == ref_line.split('(')[1], name


def test_dist_train_keeps_ranks_identical(tiny_config, run_tool, ok, port,
                                          tmp_path):
    config = tmp_path / 'tiny_dist.py'
    config.write_text(
        f"_base_ = ['{tiny_config}']\n"
        "custom_imports = dict(imports=['hsnet_mm', 'rank_weights_hook'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='SaveRankWeightsHook')]\n"
        'train_cfg = dict(max_epochs=1)\n'
        # the paper's total batch over the processes: 2 each, not the
        # config's 1 (global batch ignored) or 4 (world size 1 passed)
        'global_batch_size = 4\n'
        'train_dataloader = dict(batch_size=1)\n')
    work_dir = tmp_path / 'work_dir'
    stdout = ok(
        run_tool([
            'bash', 'tools/dist_train.sh',
            str(config), '2', '--work-dir',
            str(work_dir)
        ],
                 env=dict(PORT=str(port()), PYTHONPATH=str(HERE))))
    assert 'Distributed training: True' in stdout
    assert stdout.count('global batch 4 = 2 process(es) x 2 episodes') == 2
    rank0 = torch.load(work_dir / 'rank0_of_2.pth')
    rank1 = torch.load(work_dir / 'rank1_of_2.pth')
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # the checkpoint (saved by rank 0) holds those weights, after 2 steps
    ckpt = torch.load(work_dir / 'epoch_1.pth', weights_only=False)
    for key in rank0:
        assert torch.equal(ckpt['state_dict'][key], rank0[key]), key
    # 8 episodes over 2 ranks x batch 2: 2 iterations an epoch (batch 1:
    # 4 iterations; batch 4: 1)
    assert ckpt['meta']['iter'] == 2
    state = next(iter(ckpt['optimizer']['state'].values()))
    assert int(state['step']) == 2


def test_multi_seed_test_is_identical_on_two_processes(tiny_config,
                                                       calibrated_checkpoint,
                                                       run_tool, ok, port,
                                                       tmp_path):
    args = ['--seeds', '0', '1', '2', '--episodes', '9']
    one, two = tmp_path / 'one.json', tmp_path / 'two.json'
    stdout_one = ok(
        run_tool([
            'tools/test.py',
            str(tiny_config),
            str(calibrated_checkpoint), '--work-dir',
            str(tmp_path / 'wd'), '--out',
            str(one), *args
        ]))
    stdout_two = ok(
        run_tool([
            'bash', 'tools/dist_test.sh',
            str(tiny_config),
            str(calibrated_checkpoint), '2', '--work-dir',
            str(tmp_path / 'wd'), '--out',
            str(two), *args
        ],
                 env=dict(PORT=str(port()))))
    ref, dist = json.loads(one.read_text()), json.loads(two.read_text())
    assert [len(r['episodes']) for r in ref['runs']] == [9, 9, 9]
    assert dist['runs'] == ref['runs']  # scores, classes and every episode
    assert dist['summary'] == ref['summary']
    report = [
        line for line in stdout_two.split('\n')
        if line.startswith(('seed ', 'mean over'))
    ]
    assert len(report) == 4  # printed by rank 0 only
    assert report[-1] == stdout_one.rstrip('\n').split('\n')[-1]


@pytest.mark.cuda
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason='nccl needs CUDA: not available')
def test_dist_train_and_test_over_nccl(tiny_config, run_tool, ok, port,
                                       tmp_path):
    """dist_train.sh / dist_test.sh with nccl on one GPU (world size 1:
    nccl cannot put two ranks on one GPU; rank invariance is tested with
    gloo above)."""
    work_dir = tmp_path / 'work_dir'
    stdout = ok(
        run_tool([
            'bash', 'tools/dist_train.sh',
            str(tiny_config), '1', '--work-dir',
            str(work_dir), '--amp', '--cfg-options', 'train_cfg.max_epochs=1'
        ],
                 env=dict(PORT=str(port()))))
    assert 'Distributed training: True' in stdout
    assert "backend='nccl'" in stdout or 'nccl' in stdout
    ckpt = work_dir / 'epoch_1.pth'
    assert ckpt.exists()
    out = tmp_path / 'results.json'
    ok(
        run_tool([
            'bash', 'tools/dist_test.sh',
            str(tiny_config),
            str(ckpt), '1', '--work-dir',
            str(tmp_path / 'test_dir'), '--out',
            str(out)
        ],
                 env=dict(PORT=str(port()))))
    metrics, episodes = episodes_of(out)
    assert episodes and 0 <= metrics['mIoU'] <= 100
