# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Mean, std and t-interval over seeds, checked against hand computation."""
import math

import pytest

from hsnet_mm.evaluation.functional import (aggregate_seed_runs,
                                            format_seed_report, mean_std_ci,
                                            t_critical)


def test_t_critical_matches_the_table():
    # two-sided 95% values of a printed t table
    assert t_critical(0.95, 1) == pytest.approx(12.706, abs=1e-3)
    assert t_critical(0.95, 2) == pytest.approx(4.303, abs=1e-3)
    assert t_critical(0.95, 4) == pytest.approx(2.776, abs=1e-3)
    assert t_critical(0.90, 4) == pytest.approx(2.132, abs=1e-3)
    with pytest.raises(ValueError, match='confidence'):
        t_critical(1.0, 3)
    with pytest.raises(ValueError, match='dof'):
        t_critical(0.95, 0)


def test_mean_std_ci_by_hand():
    # mean 62; deviations -2, 0, 2 -> sample variance 8 / 2 = 4, std 2;
    # half width 4.303 * 2 / sqrt(3) = 4.969
    stat = mean_std_ci([60.0, 62.0, 64.0])
    assert stat['n'] == 3 and stat['mean'] == 62.0 and stat['std'] == 2.0
    assert (stat['min'], stat['max']) == (60.0, 64.0)
    assert stat['ci_half_width'] == pytest.approx(
        4.303 * 2 / math.sqrt(3), abs=1e-3)
    low, high = stat['ci']
    assert low == pytest.approx(57.031, abs=1e-3)
    assert high == pytest.approx(66.969, abs=1e-3)
    one = mean_std_ci([70.0])
    assert one['mean'] == 70.0 and one['std'] is None and one['ci'] is None
    with pytest.raises(ValueError, match='non-empty'):
        mean_std_ci([])
    with pytest.raises(ValueError, match='finite'):
        mean_std_ci([1.0, float('nan')])


def run(seed, miou, fb, cat, dog):
    return {
        'seed': seed,
        'mIoU': miou,
        'FB-IoU': fb,
        'class_iou': dict(cat=cat, dog=dog)
    }


def test_aggregate_seed_runs_and_report():
    runs = [run(0, 50.0, 70.0, 40.0, 60.0), run(1, 54.0, 72.0, 48.0, 60.0)]
    summary = aggregate_seed_runs(runs)
    assert summary['seeds'] == [0, 1]
    assert "Student's t" in summary['interval']
    # two seeds: std = |54 - 50| / sqrt(2); t(0.975, 1) = 12.706
    assert summary['mIoU']['mean'] == 52.0
    assert summary['mIoU']['std'] == pytest.approx(4 / math.sqrt(2))
    assert summary['mIoU']['ci_half_width'] == pytest.approx(
        12.706 * (4 / math.sqrt(2)) / math.sqrt(2), abs=1e-2)
    assert summary['FB-IoU']['mean'] == 71.0
    assert summary['class_iou']['cat']['mean'] == 44.0
    assert summary['class_iou']['dog']['std'] == 0.0

    lines = format_seed_report(runs, summary, context='  (10 episodes)')
    assert lines[0] == 'seed 0: mIoU: 50.00  FB-IoU: 70.00'
    assert lines[1] == 'seed 1: mIoU: 54.00  FB-IoU: 72.00'
    # classes by increasing mean IoU, with std and min-max
    assert lines[3].split() == ['cat', '44.00', '+/-', '5.66', '(40.00-48.00)']
    assert lines[4].split()[0] == 'dog'
    assert lines[-1] == ('mean over 2 seed(s): mIoU: 52.00 +/- 2.83 (95% CI '
                         '26.59-77.41)  FB-IoU: 71.00 +/- 1.41 (95% CI '
                         '58.29-83.71)  (10 episodes)')


def test_aggregate_refuses_inconsistent_runs():
    with pytest.raises(ValueError, match='at least one'):
        aggregate_seed_runs([])
    with pytest.raises(ValueError, match='repeated seeds'):
        aggregate_seed_runs([run(0, 1, 1, 1, 1), run(0, 2, 2, 2, 2)])
    other = run(1, 1, 1, 1, 1)
    other['class_iou'] = dict(cow=3.0)
    with pytest.raises(ValueError, match='other classes'):
        aggregate_seed_runs([run(0, 1, 1, 1, 1), other])
