# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .episode_random_flip import EpisodeRandomFlip
from .load_episode import LoadEpisode
from .pack_episode_inputs import PackEpisodeInputs
from .resize_episode import ResizeEpisode

__all__ = [
    'EpisodeRandomFlip', 'LoadEpisode', 'PackEpisodeInputs', 'ResizeEpisode'
]
