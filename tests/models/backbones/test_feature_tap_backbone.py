# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""FeatureTapBackbone: taps of stock mmseg backbones as HSNet features."""
import sys

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import hsnet_mm  # noqa: F401
from tests.models.few_shot_toys import (TINY_RESNET_TAPS, TINY_SWIN_TAPS,
                                        tiny_mit_cfg, tiny_resnet_cfg,
                                        tiny_swin_cfg, tiny_vit_cfg)


@MODELS.register_module(name='_TapToyNet', force=True)
class TapToyNet(BaseModule):
    """Stride-4 conv, then modules emitting the awkward outputs."""

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)
        self.conv = nn.Conv2d(3, 6, 4, stride=4)
        self.bn = nn.BatchNorm2d(6)
        self.last = nn.Identity()  # channels-last copy of the map
        self.pair = nn.Identity()  # (map, 'text')
        self.nothing = nn.Identity()  # returns None
        self.pooled = nn.Identity()  # (N, C)
        self.twice = nn.Identity()  # runs twice
        self.unused = nn.Conv2d(6, 6, 1)  # never runs
        self.after = nn.Conv2d(6, 6, 1)  # runs last

    def forward(self, x):
        y = self.bn(self.conv(x))
        self.last(y.permute(0, 2, 3, 1))
        self.pair((y, 'text'))
        self.nothing(None)
        self.pooled(y.mean((2, 3)))
        self.twice(self.twice(y))
        return self.after(y)


def build(backbone, taps, **kwargs):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='FeatureTapBackbone', backbone=backbone, taps=taps, **kwargs))


def shapes(levels):
    return [[tuple(m.shape) for m in level] for level in levels]


@pytest.mark.parametrize('h,w', [(64, 64), (64, 96)])
def test_swin_tokens_become_maps_deepest_first(h, w):
    model = build(tiny_swin_cfg(), TINY_SWIN_TAPS)
    assert model.layers_per_level == (1, 2, 2)  # the encoder's in_channels
    x = torch.randn(2, 3, h, w)
    levels = model(x)  # in the order of the taps: deepest first
    assert shapes(levels) == [[(2, 64, h // 32, w // 32)],
                              [(2, 32, h // 16, w // 16)] * 2,
                              [(2, 16, h // 8, w // 8)] * 2]
    # the (h, w) layout of the tokens: Swin's own stage-2 output is the
    # norm of its last block's tokens
    swin = model.backbone
    own = swin(x)[1]
    tap = levels[2][1]
    normed = swin.norm1(tap.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(normed, own)


def test_tuple_outputs_and_item_index():
    # a Swin stage returns (x_down, hw_down, x, hw)
    model = build(tiny_swin_cfg(), [['stages.1'], ['stages.1[2]']])
    x = torch.randn(1, 3, 64, 64)
    coarse, fine = model(x)  # in the order of the taps
    assert coarse[0].shape == (1, 32, 4, 4)  # after the patch merging
    assert fine[0].shape == (1, 16, 8, 8)
    block = build(tiny_swin_cfg(), [['stages.1.blocks.1']])(x)[0][0]
    torch.testing.assert_close(fine[0], block)
    with pytest.raises(ValueError, match=r"'stages.1\[7\]'.*out of range"):
        build(tiny_swin_cfg(), [['stages.1[7]']])(x)
    with pytest.raises(ValueError, match=r"\[0\] but the module returned"):
        build(tiny_swin_cfg(), [['stages.1.blocks.0[0]']])(x)


def test_mit_tokens_and_toy_layouts():
    model = build(tiny_mit_cfg(),
                  [['layers.3.1.0'], ['layers.2.1.0'], ['layers.1.1.0']])
    assert shapes(model(torch.randn(1, 3, 64, 64))) == [[(1, 64, 2, 2)],
                                                        [(1, 32, 4, 4)],
                                                        [(1, 16, 8, 8)]]
    toy = build(dict(type='_TapToyNet'), [['last', 'pair', 'bn']])
    x = torch.randn(2, 3, 32, 48)
    last, pair, ref = toy(x)[0]
    assert ref.shape == (2, 6, 8, 12)
    torch.testing.assert_close(last, ref)  # channels-last, permuted back
    torch.testing.assert_close(pair, ref)  # first tensor of the tuple


def test_plain_vit_pyramid_by_level_strides():
    taps = [['layers.3'], ['layers.1', 'layers.2'], ['layers.0']]
    with pytest.raises(ValueError, match=r'65 tokens.*prefix_tokens=1'):
        build(tiny_vit_cfg(), taps)(torch.randn(1, 3, 64, 64))
    plain = build(tiny_vit_cfg(), taps, prefix_tokens=1)
    x = torch.randn(1, 3, 64, 64)
    assert shapes(plain(x)) == [[(1, 16, 8, 8)], [(1, 16, 8, 8)] * 2,
                                [(1, 16, 8, 8)]]
    pyramid = build(
        tiny_vit_cfg(), taps, prefix_tokens=1, level_strides=(16, None, 4))
    levels = pyramid(x)
    assert shapes(levels) == [[(1, 16, 4, 4)], [(1, 16, 8, 8)] * 2,
                              [(1, 16, 16, 16)]]
    torch.testing.assert_close(levels[1][0], plain(x)[1][0])


def test_one_spatial_size_per_level():
    taps = [['stages.2.blocks.1', 'stages.1.blocks.1']]
    x = torch.randn(1, 3, 64, 64)
    with pytest.raises(ValueError) as err:
        build(tiny_swin_cfg(), taps)(x)
    msg = str(err.value)
    assert "'stages.2.blocks.1' (1, 32, 4, 4)" in msg
    assert "'stages.1.blocks.1' (1, 16, 8, 8)" in msg
    assert 'level_strides' in msg
    resized = build(tiny_swin_cfg(), taps, level_strides=(8, ))(x)
    assert shapes(resized) == [[(1, 32, 8, 8), (1, 16, 8, 8)]]


@pytest.mark.parametrize(
    'taps,match',
    [([['stages.1.block.0']], r"'stages.1.block.0': did you mean "
      r"\['stages.1.blocks.0'"), ([['nowhere']], 'no close match'),
     (['stages.1.blocks.0'], 'one non-empty list of module names per '),
     ([[]], 'one non-empty list'), ([['stages.0', 'stages.0']], 'twice|more'),
     ([['stages.0[x]']], 'not a module name')])
def test_bad_taps_fail_at_build(taps, match):
    with pytest.raises(ValueError, match=match):
        build(tiny_swin_cfg(), taps)


def test_bad_arguments_fail_at_build():
    with pytest.raises(ValueError, match='level_strides needs one int'):
        build(tiny_swin_cfg(), TINY_SWIN_TAPS, level_strides=(8, 16))
    with pytest.raises(ValueError, match='prefix_tokens'):
        build(tiny_swin_cfg(), TINY_SWIN_TAPS, prefix_tokens=-1)


@pytest.mark.parametrize('tap,match', [
    ('unused', r"\['unused'\] never ran"),
    ('nothing', r"'nothing' \(Identity\) returned NoneType, not a tensor"),
    ('pooled', r'returned shape \(2, 6\); a tap must give'),
    ('twice', "'twice' ran twice"),
])
def test_nothing_usable_at_a_tap_fails_at_forward(tap, match):
    model = build(dict(type='_TapToyNet'), [[tap]], stop_early=False)
    with pytest.raises((ValueError, RuntimeError), match=match):
        model(torch.randn(2, 3, 32, 32))


def test_stop_early_skips_the_rest_of_the_backbone():
    ran = []
    for stop_early in (True, False):
        model = build(
            tiny_swin_cfg(), TINY_SWIN_TAPS[1:], stop_early=stop_early)
        handle = model.backbone.stages[3].register_forward_hook(
            lambda *_: ran.append(stop_early))
        out = model(torch.ones(1, 3, 64, 64))
        handle.remove()
        if stop_early:
            first = out
    assert ran == [False]
    torch.testing.assert_close(first, out)


def test_frozen_backbone_has_no_grad_graph_or_train_mode():
    model = build(tiny_resnet_cfg(), TINY_RESNET_TAPS)
    assert model.frozen
    assert not any(p.requires_grad for p in model.parameters())
    stats = model.backbone.layer2[0].bn1.running_mean.clone()
    model.train()
    assert not any(m.training for m in model.modules())
    levels = model(torch.randn(2, 3, 64, 64))
    assert all(m.grad_fn is None and not m.requires_grad for level in levels
               for m in level)
    torch.testing.assert_close(model.backbone.layer2[0].bn1.running_mean,
                               stats)


def test_unfrozen_backbone_trains():
    model = build(tiny_resnet_cfg(), TINY_RESNET_TAPS, frozen=False)
    stats = model.backbone.layer2[0].bn1.running_mean.clone()
    model.train()
    assert model.backbone.training and model.backbone.layer2[0].bn1.training
    levels = model(torch.randn(2, 3, 64, 64))
    sum(m.mean() for level in levels for m in level).backward()
    assert model.backbone.stem[0].weight.grad.abs().sum() > 0
    assert not torch.equal(model.backbone.layer2[0].bn1.running_mean, stats)
    model.eval()
    assert not model.backbone.layer2[0].bn1.training


def test_no_torchvision():
    x = torch.randn(1, 3, 64, 64)
    cases = [(tiny_swin_cfg(), 'stages.0', 0),
             (tiny_mit_cfg(), 'layers.0.1.0', 0),
             (tiny_vit_cfg(), 'layers.0', 1)]
    for cfg, tap, prefix in cases:
        assert build(cfg, [[tap]], prefix_tokens=prefix)(x)[0][0].dim() == 4
    assert 'torchvision' not in sys.modules
