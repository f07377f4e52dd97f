# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Runner extensions: hooks, the CPU autocast optimizer wrapper and the
checkpoint check of ``tools/test.py``."""
from .checkpoint_check import (CheckpointMismatchError, check_checkpoint,
                               compare_state_dicts, load_state_dict)
from .hooks import EpisodeProgressBarHook, EpisodeVisualizationHook
from .optimizers import CPUAutocastOptimWrapper

__all__ = [
    'CheckpointMismatchError', 'CPUAutocastOptimWrapper',
    'EpisodeProgressBarHook', 'EpisodeVisualizationHook', 'check_checkpoint',
    'compare_state_dicts', 'load_state_dict'
]
