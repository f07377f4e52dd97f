# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from hsnet_mm.models.layers import CenterPivotConv4d


def brute_force_conv4d(x, conv, stride):
    """A full 4D conv whose kernel is zero except its two centre planes."""
    w1, w2 = conv.conv1.weight, conv.conv2.weight
    cout, cin, k, _ = w1.shape
    p, c = k // 2, k // 2
    kernel = torch.zeros(cout, cin, k, k, k, k, dtype=x.dtype)
    kernel[:, :, :, :, c, c] += w1
    kernel[:, :, c, c, :, :] += w2
    b, _, hq, wq, hs, ws = x.shape
    hs_out, ws_out = (hs - 1) // stride + 1, (ws - 1) // stride + 1
    xp = F.pad(x, (p, ) * 8)
    out = torch.zeros(b, cout, hq, wq, hs_out, ws_out, dtype=x.dtype)
    for i in range(hq):
        for j in range(wq):
            for u in range(hs_out):
                for v in range(ws_out):
                    patch = xp[:, :, i:i + k, j:j + k,
                               u * stride:u * stride + k,
                               v * stride:v * stride + k]
                    out[:, :, i, j, u,
                        v] = torch.einsum('bcijuv,ocijuv->bo', patch, kernel)
    return out + (conv.conv1.bias + conv.conv2.bias).view(1, -1, 1, 1, 1, 1)


@pytest.mark.parametrize('k,stride,size', [(3, 1, (3, 3, 3, 3)),
                                           (3, 2, (3, 4, 5, 3)),
                                           (5, 2, (4, 3, 5, 6)),
                                           (3, 4, (2, 3, 7, 5))])
def test_matches_brute_force(k, stride, size):
    torch.manual_seed(0)
    conv = CenterPivotConv4d(2, 3, k, stride).double()
    x = torch.randn(2, 2, *size, dtype=torch.float64)
    expected = brute_force_conv4d(x, conv, stride)
    out = conv(x)
    assert out.shape == expected.shape
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)


def test_changing_sizes_no_cache():
    """The official layer caches its prune index; ours works in any order."""
    torch.manual_seed(0)
    conv = CenterPivotConv4d(1, 2, 3, 2)
    shapes = [(7, 7), (8, 8), (5, 5), (7, 8), (8, 7)]
    outs = {s: conv(torch.randn(1, 1, 3, 3, *s)) for s in shapes}
    for s in shapes:
        x = torch.randn(1, 1, 3, 3, *s)
        fresh = CenterPivotConv4d(1, 2, 3, 2)
        fresh.load_state_dict(conv.state_dict())
        torch.testing.assert_close(conv(x), fresh(x))
        assert outs[s].shape[-2:] == ((s[0] + 1) // 2, (s[1] + 1) // 2)


def test_batch_one_and_non_square():
    conv = CenterPivotConv4d(3, 4, 5, 4)
    out = conv(torch.randn(1, 3, 6, 9, 13, 10))
    assert out.shape == (1, 4, 6, 9, 4, 3)


def test_bad_arguments():
    with pytest.raises(ValueError, match='odd'):
        CenterPivotConv4d(1, 1, 4)
    with pytest.raises(ValueError, match='support_stride'):
        CenterPivotConv4d(1, 1, 3, 0)
    with pytest.raises(ValueError, match='6D'):
        CenterPivotConv4d(1, 1, 3)(torch.randn(1, 1, 3, 3))


def test_registered_in_mmseg_models():
    layer = MODELS.build(
        dict(
            type='CenterPivotConv4d',
            in_channels=2,
            out_channels=4,
            kernel_size=3,
            support_stride=2))
    assert isinstance(layer, CenterPivotConv4d)
    assert layer.conv2.stride == (2, 2)
    assert MODELS.get('CenterPivotConv4d') is CenterPivotConv4d
    with pytest.raises(KeyError, match='Nope'):
        MODELS.build(
            dict(
                type='Nope',
                in_channels=2,
                out_channels=4,
                kernel_size=3,
                support_stride=2))
