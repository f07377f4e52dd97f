# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .episode import (EPISODE_INPUT_KEYS, EPISODE_META_KEYS, IGNORE_INDEX,
                      EpisodeInputs, FeatureGroups, SupportFeatures,
                      check_episode_shapes, check_episode_tensors,
                      check_support_shapes, stack_episode_inputs)

__all__ = [
    'EPISODE_INPUT_KEYS', 'EPISODE_META_KEYS', 'IGNORE_INDEX', 'EpisodeInputs',
    'FeatureGroups', 'SupportFeatures', 'check_episode_shapes',
    'check_episode_tensors', 'check_support_shapes', 'stack_episode_inputs'
]
