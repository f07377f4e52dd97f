# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch

from hsnet_mm.models.backbones import HSNetVGG


def test_official_taps_and_layout():
    model = HSNetVGG().eval()
    keys = list(model.state_dict())
    conv_ids = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert keys == [
        f'features.{i}.{p}' for i in conv_ids for p in ('weight', 'bias')
    ]
    x = torch.randn(1, 3, 64, 64)
    groups = model(x)
    assert [len(g) for g in groups] == [1, 3, 3]  # deepest first
    groups = groups[::-1]
    assert groups[0][0].shape == (1, 512, 8, 8)
    assert groups[1][2].shape == (1, 512, 4, 4)
    assert groups[2][0].shape == (1, 512, 2, 2)
    # conv taps are pre-ReLU, pool5 comes after a ReLU
    assert (groups[1][0] < 0).any()
    assert (groups[2][0] >= 0).all()
    # the tap equals running features up to that index
    y = x
    for layer in model.features[:18]:
        y = layer(y)
    torch.testing.assert_close(groups[0][0], y)


def test_frozen_and_bad_args():
    model = HSNetVGG(depth=11, tap_groups=((4, ), (9, )))
    assert all(not p.requires_grad for p in model.parameters())
    model.train()
    assert not model.training
    with pytest.raises(ValueError, match='depth'):
        HSNetVGG(depth=19)
    with pytest.raises(ValueError, match='increasing'):
        HSNetVGG(tap_groups=((19, 17), ))
