# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch

from hsnet_mm.models.layers import cosine_correlation, mask_support_feature
from hsnet_mm.models.necks import HypercorrelationNeck


def feats(n, sizes, counts, channels=4):
    return [[torch.rand(n, channels, s, s) for _ in range(c)]
            for s, c in zip(sizes, counts)]


def test_pyramid_deepest_first_and_masking():
    neck = HypercorrelationNeck()
    q = feats(2, (2, 4, 8), (3, 6, 4))  # the pyramid order: deepest first
    s = feats(2, (2, 4, 8), (3, 6, 4))
    masks = (torch.rand(2, 32, 32) > 0.5).float()
    pyramid = neck(q, s, masks)  # keeps it
    assert [tuple(p.shape) for p in pyramid] == [(2, 3, 2, 2, 2, 2),
                                                 (2, 6, 4, 4, 4, 4),
                                                 (2, 4, 8, 8, 8, 8)]
    expected = cosine_correlation(q[1][5],
                                  mask_support_feature(s[1][5], masks))
    torch.testing.assert_close(pyramid[1][:, 5], expected)


def test_mask_support_off_and_empty_mask():
    q, s = feats(1, (4, ), (2, )), feats(1, (4, ), (2, ))
    empty = torch.zeros(1, 16, 16)
    assert HypercorrelationNeck()(q, s, empty)[0].abs().sum() == 0
    unmasked = HypercorrelationNeck(mask_support=False)(q, s, empty)[0]
    torch.testing.assert_close(unmasked[:, 0],
                               cosine_correlation(q[0][0], s[0][0]))


def test_errors():
    neck = HypercorrelationNeck()
    with pytest.raises(ValueError, match='feature levels'):
        neck(
            feats(1, (4, 2), (1, 1)), feats(1, (4, ), (1, )),
            torch.ones(1, 8, 8))
    with pytest.raises(ValueError, match=r'\(N, H, W\)'):
        neck(
            feats(1, (4, ), (1, )), feats(1, (4, ), (1, )),
            torch.ones(1, 1, 8, 8))


@pytest.mark.parametrize('n', [1, 2])
def test_fast_equals_reference(n):
    torch.manual_seed(0)
    q = [[torch.randn(n, 4, 6, 5) for _ in range(3)],
         [torch.randn(n, 8, 3, 3) for _ in range(2)]]
    s = [[torch.randn(n, 4, 7, 6) for _ in range(3)],
         [torch.randn(n, 8, 4, 3) for _ in range(2)]]
    masks = (torch.rand(n, 28, 24) > 0.5).float()
    ref = HypercorrelationNeck(impl='reference')(q, s, masks)
    fast = HypercorrelationNeck(impl='fast')(q, s, masks)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match='impl'):
        HypercorrelationNeck(impl='slow')
