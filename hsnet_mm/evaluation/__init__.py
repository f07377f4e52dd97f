# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .functional import (EPISODE_RECORD_KEYS, accumulate_episodes, class_ious,
                         episode_intersect_union, format_summary,
                         load_episode_records, rescore_episodes)
from .metrics import FewShotMetric

__all__ = [
    'EPISODE_RECORD_KEYS', 'FewShotMetric', 'accumulate_episodes',
    'class_ious', 'episode_intersect_union', 'format_summary',
    'load_episode_records', 'rescore_episodes'
]
