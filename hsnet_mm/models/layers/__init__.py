# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Parameter-free math and plain layers (not registered)."""
from .center_pivot_conv4d import (CONV4D_LAYERS, CenterPivotConv4d,
                                  build_conv4d, register_conv4d)
from .correlation import (cosine_correlation, mask_support_feature,
                          stack_level_correlations)
from .kshot_vote import vote_kshot

__all__ = [
    'CONV4D_LAYERS', 'CenterPivotConv4d', 'build_conv4d', 'register_conv4d',
    'cosine_correlation', 'mask_support_feature', 'stack_level_correlations',
    'vote_kshot'
]
