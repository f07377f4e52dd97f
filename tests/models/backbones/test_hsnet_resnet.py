# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
import torch.nn.functional as F
from mmseg.models.backbones import ResNet

from hsnet_mm.models.backbones import HSNetResNet


def tiny(depth=18, **kwargs):
    return HSNetResNet(depth, stem_channels=8, base_channels=8, **kwargs)


@pytest.mark.parametrize('depth,blocks', [(18, (2, 2, 2)), (50, (4, 6, 3))])
def test_groups_by_stage(depth, blocks):
    model = tiny(depth).eval()
    groups = model(torch.randn(1, 3, 64, 48))
    assert [len(g) for g in groups] == list(blocks)[::-1]  # deepest first
    groups = groups[::-1]
    expansion = 4 if depth == 50 else 1
    for i, group in enumerate(groups):
        for f in group:
            assert f.shape == (1, 16 * 2**i * expansion, 8 // 2**i,
                               6 // 2**i + (1 if i == 2 else 0))


def test_taps_are_pre_relu_and_stage_output_matches_mmseg():
    torch.manual_seed(0)
    model = tiny(50, frozen=False).eval()
    ref = ResNet(50, stem_channels=8, base_channels=8, out_indices=(1, 2, 3))
    ref.eval()  # mmseg's ResNet.train() returns None
    ref.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 64, 64)
    groups = model(x)[::-1]  # shallow first, as mmseg's out_indices
    stage_outs = ref(x)
    for group, out in zip(groups, stage_outs):
        # the last block's tap, ReLU'd, is mmseg's stage output
        torch.testing.assert_close(F.relu(group[-1]), out)
        assert (group[-1] < 0).any(), 'taps must be taken before the ReLU'


def test_frozen_no_grad_and_bn_eval():
    model = tiny()
    assert all(not p.requires_grad for p in model.parameters())
    model.train()
    assert not any(m.training for m in model.modules())
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    feats = model(x)
    assert not feats[0][0].requires_grad  # no autograd graph
    running = model.bn1.running_mean.clone()
    model(torch.randn(2, 3, 32, 32) * 5)
    assert torch.equal(model.bn1.running_mean, running)


def test_trainable_when_not_frozen():
    model = tiny(frozen=False).train()
    out = model(torch.randn(2, 3, 32, 32))
    out[-1][-1].sum().backward()
    assert model.conv1.weight.grad is not None
    assert model.bn1.training


def test_torchvision_key_layout():
    keys = set(tiny(50).state_dict())
    for key in ('conv1.weight', 'bn1.running_var', 'layer1.0.conv3.weight',
                'layer1.0.downsample.0.weight', 'layer2.0.downsample.1.bias',
                'layer4.2.bn3.weight'):
        assert key in keys


def test_bad_arguments():
    with pytest.raises(ValueError, match='tap_stages'):
        tiny(tap_stages=(4, ))
    with pytest.raises(ValueError, match='deep_stem'):
        tiny(deep_stem=True)
