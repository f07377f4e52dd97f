# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A progress bar of the test episodes, on rank 0."""
import sys
from typing import Optional, Sequence

from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.utils import ProgressBar
from mmseg.registry import HOOKS


@HOOKS.register_module()
class EpisodeProgressBarHook(Hook):
    """Show ``[>>>>   ] done/total, episodes/s, ETA`` while testing.

    The bar counts episodes (not batches) over all ranks: rank 0 draws it
    and advances it by its batch size times the number of ranks, so a
    distributed run shows the whole test set. ``tools/test.py`` adds it.

    Args:
        bar_width (int): Width of the bar in characters. Defaults to 40.
    """

    priority = 'VERY_LOW'

    def __init__(self, bar_width: int = 40) -> None:
        self.bar_width = bar_width
        self._bar: Optional[ProgressBar] = None
        self._total = 0

    def before_test_epoch(self, runner) -> None:
        """Start the bar on rank 0."""
        rank, _ = get_dist_info()
        if rank != 0:
            return
        self._total = len(runner.test_dataloader.dataset)
        self._bar = ProgressBar(
            self._total, bar_width=self.bar_width, file=sys.stdout)

    def after_test_iter(self,
                        runner,
                        batch_idx: int,
                        data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence] = None) -> None:
        """Advance the bar by the episodes of this iteration."""
        if self._bar is None or not outputs:
            return
        _, world_size = get_dist_info()
        step = min(
            len(outputs) * world_size, self._total - self._bar.completed)
        if step > 0:
            self._bar.update(step)
        if self._bar.completed >= self._total:
            self._finish()

    def after_test_epoch(self, runner, metrics: Optional[dict] = None) -> None:
        """End the bar's line if the last batch did not."""
        if self._bar is not None:
            self._finish()

    def _finish(self) -> None:
        """End the bar's line before the metric logs its results."""
        sys.stdout.write('\n')
        sys.stdout.flush()
        self._bar = None
