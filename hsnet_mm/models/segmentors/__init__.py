# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The few-shot segmentor and what belongs to it: the K-shot vote, the
prediction packer, the pairing and chunking of (query, support) pairs and
the hypercorrelation memory guard."""
from .hsnet import HSNet
from .kshot_vote import foreground_argmax, vote_kshot
from .prediction_packer import pack_episode_predictions

__all__ = [
    'HSNet', 'foreground_argmax', 'pack_episode_predictions', 'vote_kshot'
]
