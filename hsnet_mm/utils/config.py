# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Config adjustments the train/test tools make before building a Runner."""
import os
from typing import Optional

from mmengine.config import Config

from .cli import UserError

#: Environment variables holding the number of processes, per launcher.
_WORLD_SIZE_ENV = dict(
    pytorch='WORLD_SIZE', slurm='SLURM_NTASKS', mpi='OMPI_COMM_WORLD_SIZE')


def launcher_world_size(launcher: str) -> int:
    """Number of processes of this launch (1 without a launcher)."""
    if launcher == 'none':
        return 1
    return int(os.environ.get(_WORLD_SIZE_ENV.get(launcher, ''), 1))


def apply_global_batch_size(cfg: Config, world_size: int) -> Optional[int]:
    """Split ``cfg.global_batch_size`` over the processes of a run.

    The benchmark configs state HSNet's total batch (20 episodes on PASCAL-5i
    and FSS-1000, 40 on COCO-20i) as ``global_batch_size``, so one command
    trains with the paper's batch on 1, 4 or 8 GPUs. ``None`` (or no such
    key) keeps ``train_dataloader.batch_size`` as the per-process batch.

    Returns:
        int | None: the per-process batch size set, or None.

    Raises:
        UserError: the global batch does not divide over the processes.
    """
    total = cfg.get('global_batch_size')
    if total is None or cfg.get('train_dataloader') is None:
        return None
    if total % world_size:
        raise UserError(
            f'global_batch_size={total} does not divide over {world_size} '
            'processes; choose another number of GPUs or set '
            '--cfg-options global_batch_size=<n> (or None and '
            'train_dataloader.batch_size=<per GPU>)')
    cfg.train_dataloader.batch_size = total // world_size
    return total // world_size


def drop_persistent_workers_without_workers(cfg: Config) -> None:
    """``persistent_workers`` needs workers: turn it off where there are 0.

    Lets ``--cfg-options test_dataloader.num_workers=0`` (the official
    single-process loading, or debugging) work with the shipped configs.
    """
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if loader is not None and loader.get('num_workers', 0) == 0:
            loader['persistent_workers'] = False


def use_original_size_protocol(cfg: Config) -> None:
    """Evaluate at the original query size (official ``use_original_imgsize``).

    The protocol is one switch of the data pipeline: every ``ResizeEpisode``
    of the test pipeline keeps the query mask at its original size, and
    ``HSNet.predict`` makes each prediction at the size of its ground truth.

    Raises:
        UserError: the test pipeline has no ``ResizeEpisode``.
    """
    resizes = [
        t for t in cfg.test_dataloader.dataset.get('pipeline', [])
        if t.get('type') == 'ResizeEpisode'
    ]
    if not resizes:
        raise UserError('the original-size protocol needs a ResizeEpisode '
                        'in test_dataloader.dataset.pipeline')
    for t in resizes:
        t['keep_query_gt_original'] = True
