# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Hand-computed checks of the 4D encoder's resize and mix order, which
the official-fixture test alone caught (and it skips without ../shared)."""
import torch
from torch import nn

from hsnet_mm.models.encoders import CenterPivot4DEncoder, resize_query_dims


def test_resize_query_dims_aligns_corners():
    """2 -> 4 query rows sample at 0, 1/3, 2/3, 1 (align_corners=True),
    not at 0, 1/4, 3/4, 1 (False)."""
    query = torch.tensor([[0., 1.], [2., 3.]])  # value = 2 * row + col
    x = torch.stack([query, query + 10], dim=-1)[None, None, :, :, None]
    assert x.shape == (1, 1, 2, 2, 1, 2)  # (N, C, Hq, Wq, Hs, Ws)
    out = resize_query_dims(x, (4, 4))
    assert out.shape == (1, 1, 4, 4, 1, 2)
    t = torch.tensor([0., 1 / 3, 2 / 3, 1.])
    expected = 2 * t[:, None] + t[None, :]
    torch.testing.assert_close(out[0, 0, :, :, 0, 0], expected)
    torch.testing.assert_close(out[0, 0, :, :, 0, 1], expected + 10)


class Double(nn.Module):
    """A stand-in mix block: ``2 x``."""

    def forward(self, x):
        return 2 * x


def test_coarser_level_is_added_to_the_finer_before_the_mix_block():
    """With identity squeezes and ``2 x`` mix blocks, levels of constant 1,
    10 and 100 give 2 * (2 * (1 + 10) + 100) = 244; adding the finer level
    after the mix block would give 2 * (2 * 1 + 10) + 100 = 124."""
    encoder = CenterPivot4DEncoder((2, 2, 2),
                                   squeeze_channels=(2, 2),
                                   squeeze_kernels=((3, 3), ) * 3,
                                   squeeze_strides=((1, 1), ) * 3,
                                   mix_channels=(2, 2),
                                   mix_kernels=(3, 3),
                                   num_groups=1)
    encoder.squeeze_blocks = nn.ModuleList([nn.Identity()] * 3)
    encoder.mix_blocks = nn.ModuleList([Double(), Double()])
    pyramid = [
        torch.full((1, 2, s, s, 3, 3), float(v))
        for s, v in ((2, 1), (3, 10), (5, 100))
    ]
    out = encoder(pyramid)
    assert out.shape == (1, 2, 5, 5)
    torch.testing.assert_close(out, torch.full_like(out, 244.))
