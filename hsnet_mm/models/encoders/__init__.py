# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .center_pivot_4d_encoder import (CenterPivot4DEncoder, make_conv4d_block,
                                      resize_query_dims)

__all__ = ['CenterPivot4DEncoder', 'make_conv4d_block', 'resize_query_dims']
