# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The pure scoring functions of hsnet_mm.evaluation.functional."""
import json

import numpy as np
import pytest
import torch

from hsnet_mm.evaluation import (accumulate_episodes, class_ious,
                                 episode_intersect_union, format_summary,
                                 load_episode_records, rescore_episodes)


def record(class_id, i_bg, i_fg, u_bg, u_fg):
    """A minimal per-episode record."""
    return dict(class_id=class_id, I_bg=i_bg, I_fg=i_fg, U_bg=u_bg, U_fg=u_fg)


def test_episode_intersect_union_4x4():
    # Prediction: left half; ground truth: top half -> 4 / 12 foreground.
    pred = np.zeros((4, 4), np.uint8)
    pred[:, :2] = 1
    gt = np.zeros((4, 4), np.uint8)
    gt[:2] = 1
    assert episode_intersect_union(pred, gt) == (4, 4, 12, 12)
    # Same with (1, H, W) tensors and the bottom row ignored.
    gt[3] = 255
    got = episode_intersect_union(
        torch.from_numpy(pred)[None].float(),
        torch.from_numpy(gt)[None].long())
    assert got == (2, 4, 8, 10)


def test_episode_intersect_union_custom_ignore_and_errors():
    pred = np.array([[1, 0]])
    assert episode_intersect_union(
        pred, np.array([[9, 0]]), ignore_index=9) == (1, 0, 1, 0)
    with pytest.raises(ValueError, match='my ep.*0 and 1.*nan'):
        episode_intersect_union(
            np.array([[np.nan, 0]]), np.array([[1, 0]]), name='my ep')
    with pytest.raises(ValueError, match='shape'):
        episode_intersect_union(np.zeros((2, 1, 2)), np.zeros((2, 1, 2)))


def test_accumulate_and_class_ious():
    records = [
        record(3, 1, 2, 3, 4),
        record(3, 1, 1, 1, 1),
        record(7, 5, 0, 6, 0),
        record(8, 9, 9, 9, 9)
    ]
    acc = accumulate_episodes(records, [3, 7, 11])
    np.testing.assert_array_equal(acc['intersection'], [[2, 5, 0], [3, 0, 0]])
    np.testing.assert_array_equal(acc['union'], [[4, 6, 0], [5, 0, 0]])
    np.testing.assert_array_equal(acc['num_episodes'], [2, 1, 0])
    np.testing.assert_allclose(class_ious(acc), [60.0, 0.0, 0.0])
    with pytest.raises(ValueError, match='duplicates'):
        accumulate_episodes(records, [3, 3])


def test_rescore_episodes_formulas():
    records = [
        record(3, 1, 2, 3, 4),
        record(3, 1, 1, 1, 1),
        record(7, 5, 0, 6, 0)
    ]
    got = rescore_episodes(records, [3, 7, 11])
    assert got['mIoU'] == pytest.approx(20.0)  # (60 + 0 + 0) / 3
    # bg 7 / 10, fg 3 / 5.
    assert got['FB-IoU'] == pytest.approx(100 * (0.7 + 0.6) / 2)
    # No episode at all: zeros, no division by zero.
    assert rescore_episodes([], [1, 2]) == {'mIoU': 0.0, 'FB-IoU': 0.0}
    with pytest.raises(ValueError, match='fold_class_ids'):
        rescore_episodes(records)


def test_rescore_from_files(tmp_path):
    records = [record(3, 1, 2, 3, 4), record(7, 5, 0, 6, 0)]
    listed = tmp_path / 'list.json'
    listed.write_text(json.dumps(records))
    expected = {'mIoU': 50.0, 'FB-IoU': 100 * (1 / 3 + 1 / 2) / 2}
    assert rescore_episodes(listed, [3]) == pytest.approx(expected)
    full = tmp_path / 'full.json'
    full.write_text(json.dumps(dict(fold_class_ids=[3], episodes=records)))
    assert rescore_episodes(str(full)) == rescore_episodes(listed, [3])
    assert load_episode_records(full) == (records, dict(fold_class_ids=[3]))
    bad = tmp_path / 'bad.json'
    bad.write_text('{"a": 1}')
    with pytest.raises(ValueError, match='not a per-episode file'):
        rescore_episodes(bad, [3])


def test_format_summary():
    metrics = {'mIoU': 64.304, 'FB-IoU': 76.5}
    line = format_summary(metrics, 1000, 1, 0)
    assert line == ('mIoU: 64.30  FB-IoU: 76.50  '
                    '(1000 episodes, 1-shot, fold 0)')
    line = format_summary(metrics, 2400, 5, None)
    assert line == 'mIoU: 64.30  FB-IoU: 76.50  (2400 episodes, 5-shot)'
    assert format_summary(metrics, 1).endswith('(1 episode)')
