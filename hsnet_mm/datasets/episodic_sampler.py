# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A sampler that hands the epoch to episodic datasets through the index."""
import math
from typing import Iterator, Optional, Sized

from mmengine.dataset import DefaultSampler
from mmseg.registry import DATA_SAMPLERS

from ..utils.cli import UserError


@DATA_SAMPLERS.register_module()
class EpisodicSampler(DefaultSampler):
    """``DefaultSampler`` whose indices carry the epoch.

    It shuffles (seed + epoch), rounds up and shards over ranks exactly as
    :class:`mmengine.dataset.DefaultSampler`, then yields
    ``epoch * len(dataset) + i`` for every index ``i``. An
    :class:`EpisodicDataset` decodes ``(epoch, i)`` and draws episode ``i`` of
    that epoch, so training episodes are fresh each epoch and a pure function
    of (episode seed, epoch, i), whatever the number of (persistent) workers:
    workers never need an epoch attribute set in the main process. Val/test
    datasets ignore the epoch; with ``set_epoch`` never called (ValLoop,
    TestLoop) the indices are the plain ones.

    Args:
        dataset (Sized): The dataset.
        shuffle (bool): Shuffle the indices each epoch. Defaults to True.
        seed (int, optional): Shuffle seed; None syncs a random one across
            ranks. Defaults to None.
        round_up (bool): Pad the indices so every rank gets as many.
            Defaults to True.
        num_replicas (int, optional): Number of ranks; None reads the
            distributed environment. Defaults to None.
        rank (int, optional): This rank; None reads the distributed
            environment. Defaults to None.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True,
                 num_replicas: Optional[int] = None,
                 rank: Optional[int] = None) -> None:
        super().__init__(
            dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        if (num_replicas is None) != (rank is None):
            raise UserError('give both num_replicas and rank, or neither')
        if num_replicas is not None:
            if not 0 <= rank < num_replicas:
                raise UserError(f'rank must be in [0, {num_replicas}), got '
                                f'{rank}')
            self.rank, self.world_size = int(rank), int(num_replicas)
            n = len(self.dataset)
            if self.round_up:
                self.num_samples = math.ceil(n / self.world_size)
                self.total_size = self.num_samples * self.world_size
            else:
                self.num_samples = math.ceil((n - self.rank) / self.world_size)
                self.total_size = n

    def __iter__(self) -> Iterator[int]:
        offset = self.epoch * len(self.dataset)
        return (offset + i for i in super().__iter__())
