# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Model components, in data-flow order: backbones -> necks (hypercorrelation)
-> encoders (4D) -> decode_heads (2D) -> segmentors."""
from .backbones import *  # noqa: F401,F403
from .data_preprocessor import EpisodeDataPreProcessor
from .decode_heads import *  # noqa: F401,F403
from .encoders import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .official_checkpoint import convert_official_state_dict
from .segmentors import *  # noqa: F401,F403

__all__ = ['EpisodeDataPreProcessor', 'convert_official_state_dict']
