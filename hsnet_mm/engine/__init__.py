# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Runner extensions: hooks, the CPU autocast optimizer wrapper, an atomic
file backend, the choice of the checkpoint to resume, the multi-seed test
loop and the report of a test run."""
from .atomic_local_backend import AtomicLocalBackend
from .hooks import (EpisodeProgressBarHook, EpisodeVisualizationHook,
                    NonFiniteLossHook, SafeCheckpointHook)
from .optimizers import CPUAutocastOptimWrapper
from .resume import NoValidCheckpointError, pick_resume_checkpoint
from .runner import (EpisodeTestLoop, MultiSeedTestLoop, dump_seed_results,
                     episode_set_info, format_test_report, is_multi_seed,
                     seed_results)

__all__ = [
    'AtomicLocalBackend', 'CPUAutocastOptimWrapper', 'EpisodeProgressBarHook',
    'EpisodeTestLoop', 'EpisodeVisualizationHook', 'MultiSeedTestLoop',
    'NonFiniteLossHook', 'NoValidCheckpointError', 'SafeCheckpointHook',
    'pick_resume_checkpoint', 'dump_seed_results', 'episode_set_info',
    'format_test_report', 'is_multi_seed', 'seed_results'
]
