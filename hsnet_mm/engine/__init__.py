# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Runner extensions: hooks, the CPU autocast optimizer wrapper, an atomic
file backend, the choice of the checkpoint to resume and the multi-seed test
loop."""
from .atomic_local_backend import AtomicLocalBackend
from .hooks import (EpisodeProgressBarHook, EpisodeVisualizationHook,
                    NonFiniteLossHook, SafeCheckpointHook)
from .optimizers import CPUAutocastOptimWrapper
from .resume import NoValidCheckpointError, pick_resume_checkpoint
from .runner import MultiSeedTestLoop

__all__ = [
    'AtomicLocalBackend', 'CPUAutocastOptimWrapper', 'EpisodeProgressBarHook',
    'EpisodeVisualizationHook', 'MultiSeedTestLoop', 'NonFiniteLossHook',
    'NoValidCheckpointError', 'SafeCheckpointHook', 'pick_resume_checkpoint'
]
