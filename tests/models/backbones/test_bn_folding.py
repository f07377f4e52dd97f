# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Folding a frozen BatchNorm into its conv: same outputs, live weights."""
import pytest
import torch
import torch.nn as nn

from hsnet_mm.models.backbones import HSNetResNet
from hsnet_mm.models.backbones.bn_folding import (FoldedConvBN,
                                                  fold_conv_bn_weights)


def _random_bn(c: int, affine: bool = True) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c, affine=affine).eval()
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.2, 3.0)
        if affine:
            bn.weight.normal_()
            bn.bias.normal_()
    return bn


@pytest.mark.parametrize('bias,affine,groups,stride', [(False, True, 1, 1),
                                                       (True, True, 2, 2),
                                                       (True, False, 1, 2)])
def test_fold_equals_conv_then_bn(bias, affine, groups, stride):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, 3, stride, 1, bias=bias, groups=groups)
    bn = _random_bn(6, affine)
    x = torch.randn(2, 4, 9, 7)
    weight, b = fold_conv_bn_weights(conv, bn)
    assert weight.shape == conv.weight.shape and b.shape == (6, )
    torch.testing.assert_close(
        FoldedConvBN()(conv, bn, x), bn(conv(x)), rtol=1e-5, atol=1e-5)


def test_cache_follows_the_live_weights():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 5, 1), _random_bn(5)
    folded = FoldedConvBN()
    x = torch.randn(1, 3, 4, 4)
    first = folded(conv, bn, x)
    torch.testing.assert_close(folded(conv, bn, x), first)
    with torch.no_grad():
        bn.running_mean.add_(1.0)  # in place, as load_state_dict
    torch.testing.assert_close(
        folded(conv, bn, x), bn(conv(x)), rtol=1e-5, atol=1e-5)
    conv.load_state_dict({
        'weight': torch.randn_like(conv.weight),
        'bias': conv.bias.detach()
    })
    torch.testing.assert_close(
        folded(conv, bn, x), bn(conv(x)), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(folded(conv, bn, x), first)


def test_bn_without_running_stats_is_refused():
    bn = nn.BatchNorm2d(2, track_running_stats=False)
    with pytest.raises(ValueError, match='running statistics'):
        fold_conv_bn_weights(nn.Conv2d(2, 2, 1), bn)


def test_cache_per_memory_format_and_autocast_dtype():
    """Channels-last inputs get channels-last folded weights, autocast its
    dtype: each cached apart, each giving conv then BN."""
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(3, 5, 3, padding=1), _random_bn(5)
    folded = FoldedConvBN()
    x = torch.randn(2, 3, 6, 6)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    want = bn(conv(x))
    torch.testing.assert_close(folded(conv, bn, x), want)
    out_cl = folded(conv, bn, x_cl)
    assert out_cl.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out_cl, want, rtol=1e-5, atol=1e-5)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out_bf16 = folded(conv, bn, x)
    assert out_bf16.dtype == torch.bfloat16
    torch.testing.assert_close(out_bf16.float(), want, rtol=0.02, atol=0.05)
    weights = {
        (fmt, dtype): entry[1]
        for (_, fmt, dtype), entry in folded._cache.items()
    }
    assert weights[(torch.channels_last,
                    None)].is_contiguous(memory_format=torch.channels_last)
    assert weights[(torch.contiguous_format,
                    torch.bfloat16)].dtype == torch.bfloat16


@pytest.mark.parametrize('depth,channels_last', [(18, True), (50, True),
                                                 (50, False)])
def test_folded_resnet_features_equal_unfolded(depth, channels_last):
    """Folded and channels-last (the defaults) or not: the features of
    the plain NCHW conv-then-BN ResNet."""
    torch.manual_seed(0)
    kwargs = dict(stem_channels=8, base_channels=8)
    folded = HSNetResNet(
        depth, fold_bn=True, channels_last=channels_last, **kwargs)
    plain = HSNetResNet(depth, fold_bn=False, channels_last=False, **kwargs)
    for m in folded.modules():  # non-trivial statistics everywhere
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    plain.load_state_dict(folded.state_dict())
    assert list(folded.state_dict()) == list(plain.state_dict())
    x = torch.randn(2, 3, 64, 48)
    for g_fold, g_plain in zip(folded(x), plain(x)):
        for a, b in zip(g_fold, g_plain):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
            assert a.is_contiguous(
                memory_format=torch.channels_last) == channels_last
