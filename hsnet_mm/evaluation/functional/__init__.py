# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .few_shot_iou import (EPISODE_RECORD_KEYS, accumulate_episodes,
                           class_ious, episode_intersect_union,
                           fold_class_names, format_summary,
                           load_episode_records, rescore_episodes,
                           scores_from_accumulated)
from .seed_statistics import (SEED_METRICS, aggregate_seed_runs,
                              format_seed_report, mean_std_ci, t_critical)

__all__ = [
    'EPISODE_RECORD_KEYS', 'accumulate_episodes', 'class_ious',
    'episode_intersect_union', 'fold_class_names', 'format_summary',
    'load_episode_records', 'rescore_episodes', 'scores_from_accumulated',
    'SEED_METRICS', 'aggregate_seed_runs', 'format_seed_report', 'mean_std_ci',
    't_critical'
]
