# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""What ``tools/test.py`` prints and writes after ``runner.test()``.

One run prints ``format_summary``'s line; a :class:`MultiSeedTestLoop` run
prints ``format_seed_report``'s lines and, with ``--out``, writes
:func:`seed_results`. Call them on the main process.
"""
from typing import Any, Dict, Mapping, Optional

from mmengine.runner import Runner

from hsnet_mm.evaluation.functional import format_seed_report, format_summary
from hsnet_mm.utils import atomic_dump_json, result_environment


def episode_set_info(runner: Runner) -> Dict[str, Any]:
    """``num_episodes``, ``shot``, ``fold`` (None for datasets without
    folds: FSS-1000, folders) and ``episode_sampling`` of the test
    dataset."""
    dataset = runner.test_dataloader.dataset
    folds = getattr(dataset, 'num_folds', 1)
    fold = dataset.metainfo.get('fold') if folds > 1 else None
    return dict(
        num_episodes=len(dataset),
        shot=getattr(dataset, 'shot', None),
        fold=None if fold is None else int(fold),
        episode_sampling=getattr(dataset, 'episode_sampling', None))


def is_multi_seed(runner: Runner) -> bool:
    """Whether the runner's test loop ran several episode seeds."""
    return hasattr(runner.test_loop, 'runs')


def format_test_report(runner: Runner, metrics: Mapping[str, float]) -> str:
    """The lines ``tools/test.py`` prints after ``runner.test()``.

    ``mIoU: xx.xx  FB-IoU: xx.xx  (N episodes, K-shot, fold f)``; after a
    multi-seed test, one line per seed, the per-class spread and ``mean over
    S seed(s): ...  (N episodes, K-shot, fold f)`` last.
    """
    info = episode_set_info(runner)
    summary = format_summary(metrics, info['num_episodes'], info['shot'],
                             info['fold'])
    if not is_multi_seed(runner):
        return summary
    loop = runner.test_loop
    context = '  ' + summary[summary.index('('):]
    return '\n'.join(
        format_seed_report(loop.runs, loop.summary, context=context))


def seed_results(runner: Runner,
                 config: Optional[str] = None,
                 checkpoint: Optional[str] = None) -> Dict[str, Any]:
    """The ``--out`` file of a multi-seed test: the episode set, every
    seed's scores, per-class IoU and episodes (``runs``), their mean, std
    and CI (``summary``) and the :func:`result_environment`."""
    loop = runner.test_loop
    return dict(
        config=config,
        checkpoint=checkpoint,
        **episode_set_info(runner),
        summary=loop.summary,
        runs=loop.runs,
        environment=result_environment())


def dump_seed_results(path: str,
                      runner: Runner,
                      config: Optional[str] = None,
                      checkpoint: Optional[str] = None) -> str:
    """Write :func:`seed_results` to ``path`` (atomically); return it."""
    return atomic_dump_json(path, seed_results(runner, config, checkpoint))
