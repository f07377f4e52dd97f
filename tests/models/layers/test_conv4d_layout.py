# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The channels-last 6D layout helpers."""
import torch

from hsnet_mm.models.layers.conv4d_layout import (is_channels_last_6d,
                                                  to_channels_last_6d)


def test_channels_last_6d_round_trip():
    x = torch.randn(2, 3, 4, 5, 6, 7)
    y = to_channels_last_6d(x)
    assert y.shape == x.shape and torch.equal(y, x)
    assert is_channels_last_6d(y) and not is_channels_last_6d(x)
    assert y.permute(0, 2, 3, 4, 5, 1).is_contiguous()
    assert to_channels_last_6d(y).data_ptr() == y.data_ptr()  # no copy
    assert not is_channels_last_6d(torch.randn(2, 3, 4, 5))
