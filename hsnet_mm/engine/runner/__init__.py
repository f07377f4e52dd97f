# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .episode_test_loop import EpisodeTestLoop
from .multi_seed_test_loop import MultiSeedTestLoop
from .report import (dump_seed_results, episode_set_info, format_test_report,
                     is_multi_seed, seed_results)

__all__ = [
    'EpisodeTestLoop', 'MultiSeedTestLoop', 'dump_seed_results',
    'episode_set_info', 'format_test_report', 'is_multi_seed', 'seed_results'
]
