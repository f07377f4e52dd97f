# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""FrozenBackboneMixin: no trainable parameter, eval mode for good."""
import pytest
import torch
import torch.nn as nn

from hsnet_mm.models.backbones import HSNetResNet
from hsnet_mm.models.backbones.frozen import FrozenBackboneMixin


class TinyBackbone(FrozenBackboneMixin, nn.Module):
    """conv -> BN -> dropout, frozen by argument as the real backbones."""

    def __init__(self, frozen: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.5)
        self._set_frozen(frozen)

    def forward(self, x):
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            return self.drop(self.bn(self.conv(x)))


def test_frozen_has_no_trainable_parameter_and_stays_in_eval():
    net = TinyBackbone(frozen=True)
    assert net.frozen
    assert not any(p.requires_grad for p in net.parameters())
    assert not any(m.training for m in net.modules())
    assert net.train() is net  # chainable, as nn.Module.train
    assert not any(m.training for m in net.modules())
    # inside a parent in train mode too
    parent = nn.Sequential(net, nn.Conv2d(4, 1, 1)).train()
    assert parent.training and parent[1].training
    assert not any(m.training for m in net.modules())


def test_frozen_bn_keeps_its_statistics_and_dropout_is_off():
    torch.manual_seed(0)
    net = TinyBackbone(frozen=True).train()
    mean = net.bn.running_mean.clone()
    x = torch.randn(2, 3, 8, 8) * 5 + 3
    out = net(x)
    assert torch.equal(net.bn.running_mean, mean)
    assert net.bn.num_batches_tracked.item() == 0
    assert torch.equal(out, net(x))  # no dropout: deterministic
    assert not out.requires_grad  # no autograd graph


def test_not_frozen_trains_normally():
    torch.manual_seed(0)
    net = TinyBackbone(frozen=False).train()
    assert not net.frozen
    assert all(p.requires_grad for p in net.parameters())
    assert all(m.training for m in net.modules())
    mean = net.bn.running_mean.clone()
    out = net(torch.randn(2, 3, 8, 8) + 3)
    assert out.requires_grad
    assert not torch.equal(net.bn.running_mean, mean)
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_the_mixin_must_precede_nn_module():
    """``train`` is overridden by the mixin only when it comes first in the
    bases, as in the shipped backbones."""

    class Wrong(nn.Module, FrozenBackboneMixin):

        def __init__(self) -> None:
            super().__init__()
            self.bn = nn.BatchNorm2d(2)
            self._set_frozen(True)

    wrong = Wrong().train()
    assert wrong.bn.training  # nn.Module.train won: the freeze is lost
    mro = HSNetResNet.__mro__
    assert mro.index(FrozenBackboneMixin) < mro.index(nn.Module)


@pytest.mark.parametrize('frozen', [True, False])
def test_hsnet_resnet_uses_the_mixin(frozen):
    net = HSNetResNet(
        depth=18,
        stem_channels=8,
        base_channels=8,
        frozen=frozen,
        init_cfg=None).train()
    assert net.frozen is frozen
    assert any(p.requires_grad for p in net.parameters()) is not frozen
    assert any(m.training for m in net.modules()) is not frozen
