# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Parameter-free math and the 4D conv layer(s) the encoder is built from."""
from .center_pivot_conv4d import CenterPivotConv4d
from .correlation import (batched_level_correlations, cosine_correlation,
                          mask_support_feature, stack_level_correlations)
from .fast_center_pivot_conv4d import FastCenterPivotConv4d

__all__ = [
    'CenterPivotConv4d', 'FastCenterPivotConv4d', 'batched_level_correlations',
    'cosine_correlation', 'mask_support_feature', 'stack_level_correlations'
]
