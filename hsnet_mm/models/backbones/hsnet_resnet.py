# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""ResNet exposing every residual block's pre-ReLU output, grouped by stage.

Written from the description of ``extract_feat_res`` of the official HSNet
(juhongm999/hsnet, ``model/base/feature.py``).

HSNet correlates the output of every bottleneck of stages 2-4 (13 maps for
ResNet-50, 30 for ResNet-101), taken **after the residual add and before
the block's final ReLU**. mmseg's ``ResNet.forward`` only exposes stage
outputs (after the ReLU), so this subclass reuses mmseg's blocks (their
parameter names are torchvision's, so ImageNet weights from
``download.pytorch.org`` load unchanged) and runs them itself.
"""
from typing import Callable, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.backbones.resnet import BasicBlock, Bottleneck, ResNet
from mmseg.registry import MODELS

from .. import execution_policy as policy
from .bn_folding import FoldedConvBN
from .frozen import FrozenBackboneMixin

#: ``conv_bn(conv, bn, x)`` computes ``bn(conv(x))``
ConvBN = Callable[[nn.Conv2d, nn.Module, torch.Tensor], torch.Tensor]


def _conv_then_bn(conv: nn.Conv2d, bn: nn.Module,
                  x: torch.Tensor) -> torch.Tensor:
    return bn(conv(x))


def _downsample(block: nn.Module, x: torch.Tensor,
                conv_bn: ConvBN) -> torch.Tensor:
    """The shortcut: ``Sequential(conv, bn)`` through ``conv_bn``, any other
    (e.g. ``avg_down``'s pooling first) as it is."""
    ds = block.downsample
    if (isinstance(ds, nn.Sequential) and len(ds) == 2
            and isinstance(ds[0], nn.Conv2d)
            and isinstance(ds[1], nn.modules.batchnorm._BatchNorm)):
        return conv_bn(ds[0], ds[1], x)
    return ds(x)


def residual_sum_pre_relu(block: torch.nn.Module,
                          x: torch.Tensor,
                          conv_bn: Optional[ConvBN] = None) -> torch.Tensor:
    """Run one mmseg residual block up to (excluding) its final ReLU.

    Args:
        block (BasicBlock | Bottleneck): an mmseg ResNet block without
            plugins or DCN.
        x (Tensor): the block input, (N, C_in, H, W).
        conv_bn (callable, optional): computes ``bn(conv(x))`` from
            ``(conv, bn, x)``, e.g. a :class:`.FoldedConvBN`. Defaults to
            running the two modules.

    Returns:
        Tensor: ``residual branch + identity``, (N, C_out, H', W').
    """
    conv_bn = conv_bn or _conv_then_bn
    if isinstance(block, Bottleneck):
        out = block.relu(conv_bn(block.conv1, block.norm1, x))
        out = block.relu(conv_bn(block.conv2, block.norm2, out))
        out = conv_bn(block.conv3, block.norm3, out)
    elif isinstance(block, BasicBlock):
        out = block.relu(conv_bn(block.conv1, block.norm1, x))
        out = conv_bn(block.conv2, block.norm2, out)
    else:
        raise TypeError(f'unsupported residual block {type(block).__name__}')
    identity = x if block.downsample is None else _downsample(
        block, x, conv_bn)
    if torch.is_grad_enabled():
        return out + identity
    return out.add_(identity)  # ``out`` is this function's own tensor


@MODELS.register_module()
class HSNetResNet(FrozenBackboneMixin, ResNet):
    """mmseg ResNet returning HSNet's multi-layer features.

    Output: a tuple with one entry per tapped stage, deepest first (the
    pyramid order, :data:`~hsnet_mm.structures.FeatureGroups`); each entry
    is the list of that stage's block outputs (pre-ReLU), shallow to deep.
    With the default ``tap_stages=(1, 2, 3)`` and ResNet-50 at 400 x 400:
    3 maps (N, 2048, 13, 13), 6 maps (N, 1024, 25, 25) and 4 maps
    (N, 512, 50, 50). Each stage is one level of the hypercorrelation
    pyramid, so the neck needs no knowledge of the architecture.

    Args:
        depth (int): 18, 34, 50, 101 or 152.
        tap_stages (Sequence[int]): 0-based stages whose blocks are tapped.
            Defaults to (1, 2, 3) (layer2-layer4, as HSNet).
        frozen (bool): freeze the whole backbone: no gradients, no autograd
            graph, BatchNorm always in eval mode. Defaults to True (HSNet).
        fold_bn (bool): when frozen, run every conv + BatchNorm pair as
            one conv with folded weights (:mod:`.bn_folding`; cached, the
            state dict unchanged): the same features up to fp32 rounding,
            one pass over the activations less, for a cached copy of
            the conv weights per memory format and autocast dtype in use
            (~90 MB each for ResNet-50 in fp32). Defaults to True.
        channels_last (bool): run the convs on channels-last (NHWC)
            activations, as oneDNN and cuDNN prefer (no layout reorder per
            conv; measured ~1.2x fp32 and ~1.3x bf16 on a CPU). The features
            keep their shapes and values (up to fp32 rounding) but are
            channels-last in memory. Defaults to True.
        impl (str): the execution policy
            (:mod:`hsnet_mm.models.execution_policy`): ``'reference'`` runs
            conv then BatchNorm on NCHW activations whatever ``fold_bn`` and
            ``channels_last`` say. Inside ``HSNet``, its ``impl`` sets it.
            Defaults to ``'fast'``.
        **kwargs: other arguments of mmseg's ``ResNet`` (``init_cfg`` loads
            ImageNet weights, e.g. ``dict(type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'resnet50-0676ba61.pth')``). ``deep_stem``, ``dcn``, ``plugins``
            and dilations other than 1 are not supported.
    """

    def __init__(self,
                 depth: int,
                 tap_stages: Sequence[int] = (1, 2, 3),
                 frozen: bool = True,
                 fold_bn: bool = True,
                 channels_last: bool = True,
                 impl: str = 'fast',
                 **kwargs) -> None:
        for key in ('deep_stem', 'dcn', 'plugins', 'multi_grid'):
            if kwargs.get(key):
                raise ValueError(f'HSNetResNet does not support {key}')
        num_stages = kwargs.get('num_stages', 4)
        if not tap_stages or any(s < 0 or s >= num_stages for s in tap_stages):
            raise ValueError(f'tap_stages must be a non-empty subset of '
                             f'0..{num_stages - 1}, got {tuple(tap_stages)}')
        kwargs.setdefault('out_indices', tuple(tap_stages))
        super().__init__(depth=depth, **kwargs)
        self.tap_stages = tuple(sorted(tap_stages))
        self.fold_bn = fold_bn
        self.channels_last = channels_last
        self.impl = policy.check_impl(impl)
        self._folded = FoldedConvBN()
        self._set_frozen(frozen)

    def forward(self, x: torch.Tensor) -> Tuple[List[torch.Tensor], ...]:
        """Extract the tapped features.

        Args:
            x (Tensor): normalised images, (N, 3, H, W).

        Returns:
            tuple[list[Tensor]]: per tapped stage, deepest first, its
            blocks' pre-ReLU outputs (N, C_stage, H_stage, W_stage),
            channels-last in memory if ``channels_last``.
        """
        if self.channels_last and policy.channels_last(self.impl, x.device):
            x = x.contiguous(memory_format=torch.channels_last)
        # a frozen backbone's BN is always in eval mode: an affine map
        folded = (
            self.frozen and self.fold_bn
            and policy.fold_bn(self.impl, x.device))
        conv_bn = self._folded if folded else _conv_then_bn
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            x = self.maxpool(self.relu(conv_bn(self.conv1, self.norm1, x)))
            groups = []
            for i, layer_name in enumerate(self.res_layers):
                if i > self.tap_stages[-1]:
                    break
                taps = []
                for block in getattr(self, layer_name):
                    out = residual_sum_pre_relu(block, x, conv_bn)
                    taps.append(out)
                    x = F.relu(out)  # not in place: ``out`` is the tap
                if i in self.tap_stages:
                    groups.insert(0, taps)  # deepest first
        return tuple(groups)
