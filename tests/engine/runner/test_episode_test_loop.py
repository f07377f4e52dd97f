# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""EpisodeTestLoop: mmengine's TestLoop with one batch in memory."""
import weakref

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from torch.utils.data import DataLoader

from hsnet_mm.engine.runner import EpisodeTestLoop
from hsnet_mm.engine.runner.episode_test_loop import shrink_ground_truths
from hsnet_mm.evaluation import FewShotMetric
from tests.engine.runner.seed_toys import (ScoringModel, SeededEpisodes,
                                           fake_runner)


class Batch(dict):
    """A batch that can be watched with a weak reference."""


class WatchingModel(ScoringModel):
    """Records whether the previous batch is still alive at each step."""

    def __init__(self) -> None:
        super().__init__()
        self.previous = None
        self.previous_alive = []

    def test_step(self, batch):
        if self.previous is not None:
            self.previous_alive.append(self.previous() is not None)
        self.previous = weakref.ref(batch)
        return super().test_step(batch['items'])


def test_same_metrics_and_hooks_as_test_loop():
    runner = fake_runner()
    loader = DataLoader(
        SeededEpisodes(), batch_size=4, collate_fn=lambda batch: batch)
    loop = EpisodeTestLoop(runner, loader, Evaluator([FewShotMetric()]))
    metrics = loop.run()
    assert metrics == {'mIoU': pytest.approx(100), 'FB-IoU': 100}
    assert runner.model.seen == [(0, i) for i in range(6)]
    assert [h for h in runner.hooks if not h.endswith('_iter')] == [
        'before_test', 'before_test_epoch', 'after_test_epoch', 'after_test'
    ]
    assert runner.hooks.count('after_test_iter') == 2


def test_a_batch_is_dropped_before_the_next_loads():
    model = WatchingModel()
    loader = DataLoader(
        SeededEpisodes(),
        batch_size=2,
        collate_fn=lambda batch: Batch(items=batch))
    loop = EpisodeTestLoop(
        fake_runner(model=model), loader, Evaluator([FewShotMetric()]))
    loop.run()
    assert model.previous_alive == [False, False]


def test_ground_truths_are_stored_as_uint8():
    gt = torch.tensor([[[0, 1], [255, 1]]])
    sample = SegDataSample(gt_sem_seg=PixelData(data=gt.clone()))
    wide = SegDataSample(gt_sem_seg=PixelData(data=torch.tensor([[[300]]])))
    batch = dict(data_samples=[sample, wide, SegDataSample()])
    assert shrink_ground_truths(batch) is batch
    assert sample.gt_sem_seg.data.dtype == torch.uint8
    assert torch.equal(sample.gt_sem_seg.data.long(), gt)
    assert wide.gt_sem_seg.data.dtype == torch.int64  # does not fit: kept
    assert shrink_ground_truths([1, 2]) == [1, 2]  # no data samples
