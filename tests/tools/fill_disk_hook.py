# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A hook for the full-disk test: fill the work dir's file system after the
first training iteration, so that a later write of the run (a log line, the
scalars, a checkpoint) finds no space.

Loaded by the test's config through ``custom_imports`` (the test puts this
folder on ``PYTHONPATH``); not a test module itself.
"""
import errno
import os.path as osp

from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class FillDiskHook(Hook):
    """Write ``filler.bin`` into the work dir until the disk is full."""

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        if runner.iter != 0:
            return
        block = bytes(4096)
        with open(
                osp.join(runner.work_dir, 'filler.bin'), 'wb',
                buffering=0) as f:
            while True:
                try:
                    f.write(block)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
