# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Runner extensions: hooks and the CPU autocast optimizer wrapper."""
from .hooks import EpisodeProgressBarHook, EpisodeVisualizationHook
from .optimizers import CPUAutocastOptimWrapper

__all__ = [
    'CPUAutocastOptimWrapper', 'EpisodeProgressBarHook',
    'EpisodeVisualizationHook'
]
