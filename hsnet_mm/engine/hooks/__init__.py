# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .episode_progress_bar_hook import EpisodeProgressBarHook
from .episode_visualization_hook import EpisodeVisualizationHook
from .non_finite_loss_hook import NonFiniteLossHook
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = [
    'EpisodeProgressBarHook', 'EpisodeVisualizationHook', 'NonFiniteLossHook',
    'SafeCheckpointHook'
]
