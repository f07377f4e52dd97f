# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Runner extensions: hooks, the CPU autocast optimizer wrapper and the
multi-seed test loop."""
from .hooks import EpisodeProgressBarHook, EpisodeVisualizationHook
from .optimizers import CPUAutocastOptimWrapper
from .runner import MultiSeedTestLoop

__all__ = [
    'CPUAutocastOptimWrapper', 'EpisodeProgressBarHook',
    'EpisodeVisualizationHook', 'MultiSeedTestLoop'
]
