# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""What tools/test.py prints and writes after a test run (the tool itself:
tests/tools/test_test_tool.py, tests/tools/test_test_tool_seeds.py)."""
import json
from types import SimpleNamespace

import pytest

from hsnet_mm.engine import (dump_seed_results, episode_set_info,
                             format_test_report, is_multi_seed, seed_results)
from hsnet_mm.evaluation.functional import aggregate_seed_runs
from tests.engine.runner.seed_toys import SeededEpisodes, fake_runner

METRICS = {'mIoU': 64.304, 'FB-IoU': 76.5}
RUNS = [
    {
        'seed': 0,
        'mIoU': 60.0,
        'FB-IoU': 70.0,
        'class_iou': {
            'cat': 50.0,
            'dog': 70.0
        }
    },
    {
        'seed': 1,
        'mIoU': 64.0,
        'FB-IoU': 74.0,
        'class_iou': {
            'cat': 58.0,
            'dog': 70.0
        }
    },
]


def runner_of(dataset, loop=None):
    return fake_runner(
        test_dataloader=SimpleNamespace(dataset=dataset),
        test_loop=loop or SimpleNamespace())


def multi_seed_loop():
    return SimpleNamespace(runs=RUNS, summary=aggregate_seed_runs(RUNS))


class FoldlessDataset:
    """FSS-1000 or a folder: no folds, no shot attribute."""
    metainfo = dict(fold=0)

    def __len__(self):
        return 2400


def test_episode_set_info():
    info = episode_set_info(runner_of(SeededEpisodes(fold=2, shot=5)))
    assert info == dict(
        num_episodes=6, shot=5, fold=2, episode_sampling='official')
    info = episode_set_info(runner_of(FoldlessDataset()))
    assert info == dict(
        num_episodes=2400, shot=None, fold=None, episode_sampling=None)


def test_one_run_prints_one_line():
    runner = runner_of(SeededEpisodes(fold=3))
    assert not is_multi_seed(runner)
    assert format_test_report(runner, METRICS) == (
        'mIoU: 64.30  FB-IoU: 76.50  (6 episodes, 1-shot, fold 3)')
    assert format_test_report(
        runner_of(FoldlessDataset()),
        METRICS) == ('mIoU: 64.30  FB-IoU: 76.50  (2400 episodes)')


def test_a_multi_seed_run_prints_each_seed_and_the_mean():
    runner = runner_of(SeededEpisodes(fold=1, shot=5), multi_seed_loop())
    assert is_multi_seed(runner)
    lines = format_test_report(runner, METRICS).splitlines()
    assert lines[0] == 'seed 0: mIoU: 60.00  FB-IoU: 70.00'
    assert lines[1] == 'seed 1: mIoU: 64.00  FB-IoU: 74.00'
    assert lines[3].startswith('cat ') and lines[4].startswith('dog ')
    assert lines[-1].startswith('mean over 2 seed(s): mIoU: 62.00 +/- 2.83')
    assert lines[-1].endswith('  (6 episodes, 5-shot, fold 1)')


def test_seed_results_and_their_file(tmp_path):
    runner = runner_of(SeededEpisodes(fold=1), multi_seed_loop())
    results = seed_results(runner, 'cfg.py', 'best.pth')
    assert results['config'] == 'cfg.py'
    assert results['checkpoint'] == 'best.pth'
    assert (results['num_episodes'], results['shot'], results['fold'],
            results['episode_sampling']) == (6, 1, 1, 'official')
    assert results['runs'] == RUNS
    assert results['summary']['mIoU']['mean'] == pytest.approx(62)
    assert {'torch', 'mmseg', 'numpy'} <= set(results['environment'])
    path = tmp_path / 'out' / 'seeds.json'
    assert dump_seed_results(str(path), runner, 'cfg.py') == str(path)
    written = json.loads(path.read_text())
    assert written['runs'] == RUNS and written['checkpoint'] is None
    assert written['summary']['seeds'] == [0, 1]
    assert sorted(p.name for p in path.parent.iterdir()) == ['seeds.json']
