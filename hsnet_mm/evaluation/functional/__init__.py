# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .few_shot_iou import (EPISODE_RECORD_KEYS, accumulate_episodes,
                           class_ious, episode_intersect_union, format_summary,
                           load_episode_records, rescore_episodes,
                           scores_from_accumulated)

__all__ = [
    'EPISODE_RECORD_KEYS', 'accumulate_episodes', 'class_ious',
    'episode_intersect_union', 'format_summary', 'load_episode_records',
    'rescore_episodes', 'scores_from_accumulated'
]
