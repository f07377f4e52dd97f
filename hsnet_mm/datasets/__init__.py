# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .coco20i import COCO20iDataset
from .episodic_dataset import EpisodicDataset
from .episodic_sampler import EpisodicSampler
from .folder import FolderFewShotDataset
from .fss1000 import FSS1000Dataset
from .pascal5i import PASCAL5iDataset
from .synthetic import SyntheticFewShotDataset
from .transforms import (EpisodeRandomFlip, LoadEpisode, PackEpisodeInputs,
                         ResizeEpisode)

__all__ = [
    'COCO20iDataset', 'EpisodicDataset', 'EpisodicSampler',
    'FolderFewShotDataset', 'FSS1000Dataset', 'PASCAL5iDataset',
    'SyntheticFewShotDataset', 'EpisodeRandomFlip', 'LoadEpisode',
    'PackEpisodeInputs', 'ResizeEpisode'
]
