# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""mmengine's ``TestLoop`` with the memory of one batch, whatever its size.

With ``--original-size`` a prediction and its ground truth are at the
query's original size: a 12000 x 12000 query gives a 1.15 GB int64
``pred_sem_seg`` (and ``PackEpisodeInputs`` packs its ground truth as
uint8, 144 MB). mmengine's loop (``for idx, data_batch in
enumerate(loader)``) keeps the last batch, with both, while the next one is
loaded. This loop drops the batch, with its predictions, before loading
the next, and stores as uint8 a ground truth another pipeline packed as
int64 (its labels are 0, 1 and 255) before the model runs.
"""
from typing import Iterator

import torch
from mmengine.runner import TestLoop
from mmseg.registry import LOOPS


def shrink_ground_truths(data_batch: dict) -> dict:
    """Store each sample's ``gt_sem_seg`` as uint8 (in place) when its
    values fit: 1 byte a pixel instead of 8. The metric and the pictures
    read the values, the model only the shape.

    Args:
        data_batch (dict): A batch with ``data_samples``.

    Returns:
        dict: ``data_batch``.
    """
    samples = data_batch.get('data_samples') if isinstance(data_batch,
                                                           dict) else None
    for sample in samples or []:
        if 'gt_sem_seg' not in sample:
            continue
        gt = sample.gt_sem_seg.data
        if gt.dtype in (torch.uint8, torch.bool) or gt.is_floating_point():
            continue
        if gt.numel() and (gt.min() < 0 or gt.max() > 255):
            continue
        sample.gt_sem_seg.data = gt.to(torch.uint8)
    return data_batch


def batches(dataloader) -> Iterator[dict]:
    """The batches of ``dataloader``; the caller drops each before asking
    for the next (``enumerate`` would hold it while the next loads)."""
    it = iter(dataloader)
    while True:
        try:
            yield next(it)
        except StopIteration:
            return


@LOOPS.register_module()
class EpisodeTestLoop(TestLoop):
    """``TestLoop`` (same hooks, outputs and metrics) whose memory is one
    batch's: see the module's docstring. ``tools/test.py`` uses it.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The test dataloader.
        evaluator (Evaluator | dict | list): The test evaluator.
        fp16 (bool): Run the model under autocast. Defaults to False.
    """

    def run(self) -> dict:
        """Test the dataset once.

        Returns:
            dict: The metrics.
        """
        self.runner.call_hook('before_test')
        self.runner.call_hook('before_test_epoch')
        self.runner.model.eval()
        self.test_loss.clear()
        self.run_batches()
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        if self.test_loss:
            metrics.update(self.parse_test_losses())
        self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        return metrics

    def parse_test_losses(self) -> dict:
        """The test losses, as mmengine's loop reports them."""
        from mmengine.runner.loops import _parse_losses
        return _parse_losses(self.test_loss, 'test')

    def run_batches(self) -> None:
        """Run every batch of the dataloader, one in memory at a time."""
        idx = 0
        for data_batch in batches(self.dataloader):
            self.run_iter(idx, shrink_ground_truths(data_batch))
            del data_batch  # with its predictions, before the next loads
            idx += 1
