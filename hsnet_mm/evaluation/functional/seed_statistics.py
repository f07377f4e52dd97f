# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Spread of few-shot scores over episode seeds, as pure functions.

Few-shot results move by points between episode sets of the same size
(different seeds of the episode sampler). :func:`aggregate_seed_runs` sums
up one test per seed: the mean, the sample standard deviation and a
two-sided confidence interval of the mean from Student's t-distribution with
``n - 1`` degrees of freedom::

    mean +/- t_{(1 + confidence) / 2, n - 1} * std / sqrt(n)

where ``std`` is the sample standard deviation (``ddof=1``). With one seed
the spread is undefined and reported as None.
"""
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
from scipy import stats

#: The scores aggregated over seeds.
SEED_METRICS = ('mIoU', 'FB-IoU')


def t_critical(confidence: float, dof: int) -> float:
    """Two-sided critical value of Student's t-distribution.

    Args:
        confidence (float): Coverage of the interval, in (0, 1), e.g. 0.95.
        dof (int): Degrees of freedom, >= 1.

    Returns:
        float: ``t`` such that ``P(|T| <= t) = confidence``.
    """
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be in (0, 1), got {confidence}')
    if dof < 1:
        raise ValueError(f'dof must be >= 1, got {dof}')
    return float(stats.t.ppf((1 + confidence) / 2, dof))


def mean_std_ci(values: Sequence[float],
                confidence: float = 0.95) -> Dict[str, Any]:
    """Mean, sample std and t-interval of the mean of ``values``.

    Args:
        values (Sequence[float]): One score per seed.
        confidence (float): Coverage of the interval. Defaults to 0.95.

    Returns:
        dict: ``n``, ``mean``, ``std`` (ddof=1), ``min``, ``max``,
        ``ci_half_width`` and ``ci`` (``[low, high]``); ``std``,
        ``ci_half_width`` and ``ci`` are None when ``n == 1``.

    Raises:
        ValueError: ``values`` is empty or holds a non-finite number.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f'need a non-empty list of scores, got {values!r}')
    if not np.isfinite(x).all():
        raise ValueError(f'scores must be finite, got {values!r}')
    n = int(x.size)
    mean = float(x.mean())
    out: Dict[str, Any] = dict(
        n=n,
        mean=mean,
        std=None,
        min=float(x.min()),
        max=float(x.max()),
        confidence=confidence,
        ci_half_width=None,
        ci=None)
    if n > 1:
        std = float(x.std(ddof=1))
        half = t_critical(confidence, n - 1) * std / math.sqrt(n)
        out.update(std=std, ci_half_width=half, ci=[mean - half, mean + half])
    return out


def aggregate_seed_runs(runs: Sequence[Mapping[str, Any]],
                        confidence: float = 0.95) -> Dict[str, Any]:
    """Sum up one test run per seed.

    Args:
        runs (Sequence[Mapping]): One dict per seed with ``seed``, ``mIoU``,
            ``FB-IoU`` and ``class_iou`` (``{class name: IoU}``, the same
            classes in every run).
        confidence (float): Coverage of the intervals. Defaults to 0.95.

    Returns:
        dict: ``seeds``, ``confidence``, ``interval`` (how the interval is
        computed), one :func:`mean_std_ci` entry per metric of
        ``SEED_METRICS`` and ``class_iou`` (``{class: mean_std_ci}``).

    Raises:
        ValueError: no run, a repeated seed, or runs with different classes.
    """
    if not runs:
        raise ValueError('aggregate_seed_runs needs at least one run')
    seeds = [int(r['seed']) for r in runs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f'repeated seeds: {seeds}')
    classes = list(runs[0]['class_iou'])
    for r in runs[1:]:
        if list(r['class_iou']) != classes:
            raise ValueError(f'seed {r["seed"]} scored other classes than '
                             f'seed {seeds[0]}')
    summary: Dict[str, Any] = dict(
        seeds=seeds,
        confidence=confidence,
        interval="Student's t, two-sided, n-1 degrees of freedom, "
        'sample std (ddof=1)')
    for key in SEED_METRICS:
        summary[key] = mean_std_ci([r[key] for r in runs], confidence)
    summary['class_iou'] = {
        c: mean_std_ci([r['class_iou'][c] for r in runs], confidence)
        for c in classes
    }
    return summary


def _pm(stat: Mapping[str, Any]) -> str:
    """``'64.30 +/- 1.20 (95% CI 62.81-65.79)'`` or ``'64.30'``."""
    if stat['std'] is None:
        return f"{stat['mean']:.2f}"
    low, high = stat['ci']
    pct = round(100 * stat['confidence'])
    return (f"{stat['mean']:.2f} +/- {stat['std']:.2f} "
            f'({pct}% CI {low:.2f}-{high:.2f})')


def format_seed_report(runs: Sequence[Mapping[str, Any]],
                       summary: Mapping[str, Any],
                       num_classes_listed: Optional[int] = None,
                       context: str = '') -> List[str]:
    """The lines ``tools/test.py --seeds`` prints.

    One line per seed, the per-class spread (mean +/- std, min-max; the
    ``num_classes_listed`` classes of lowest mean first, all by default) and
    the mean line last.

    Args:
        runs (Sequence[Mapping]): As for :func:`aggregate_seed_runs`.
        summary (Mapping): Its output.
        num_classes_listed (int, optional): How many classes to list.
            Defaults to None (all).
        context (str): Appended to the last line, e.g.
            ``'  (1000 episodes, 1-shot, fold 0)'``. Defaults to ''.

    Returns:
        list[str]: The lines.
    """
    lines = [
        f"seed {int(r['seed'])}: mIoU: {r['mIoU']:.2f}  "
        f"FB-IoU: {r['FB-IoU']:.2f}" for r in runs
    ]
    per_class = sorted(
        summary['class_iou'].items(), key=lambda kv: kv[1]['mean'])
    if num_classes_listed is not None:
        per_class = per_class[:num_classes_listed]
    width = max([len(str(c)) for c, _ in per_class] + [5])
    lines.append(f"{'class':<{width}}  IoU mean +/- std   (min-max)")
    for name, stat in per_class:
        std = '-' if stat['std'] is None else f"{stat['std']:.2f}"
        lines.append(f"{str(name):<{width}}  {stat['mean']:6.2f} +/- "
                     f"{std:>5}  ({stat['min']:.2f}-{stat['max']:.2f})")
    lines.append(f"mean over {len(runs)} seed(s): "
                 f"mIoU: {_pm(summary['mIoU'])}  "
                 f"FB-IoU: {_pm(summary['FB-IoU'])}{context}")
    return lines
