# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Fold a frozen BatchNorm into the convolution before it.

A BatchNorm in eval mode is the per-channel affine map
``y = (x - mean) / sqrt(var + eps) * gamma + beta``, so ``bn(conv(x))``
equals one convolution with the weight scaled by
``gamma / sqrt(var + eps)`` per output channel and the bias
``beta + (b - mean) * gamma / sqrt(var + eps)``: one pass over the
activations instead of two, the same values up to float rounding
(~1e-6 relative in fp32).

The folded weights are computed from the live parameters and buffers and
cached; the cache is keyed by their storage and in-place version counters,
so loading a checkpoint, ``model.to(...)`` or any in-place update refolds
on the next call (an edit through ``.data``, which autograd does not
version, is not seen: use ``load_state_dict`` or ``torch.no_grad()``).
The state dict is untouched (the keys stay torchvision's).
"""
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...utils.autocast import autocast_dtype


def fold_conv_bn_weights(
        conv: nn.Conv2d, bn: nn.modules.batchnorm._BatchNorm
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of ``conv`` followed by ``bn`` in eval mode.

    Args:
        conv (nn.Conv2d): weight (C_out, C_in / groups, kh, kw), any bias.
        bn (_BatchNorm): over the C_out channels, with running statistics.

    Returns:
        tuple[Tensor, Tensor]: folded weight (C_out, C_in / groups, kh, kw)
        and bias (C_out,).
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError(f'{type(bn).__name__} without running statistics '
                         '(track_running_stats=False) cannot be folded')
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    bias = -bn.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    if bn.bias is not None:
        bias = bias + bn.bias
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    return weight.detach(), bias.detach()


def _key(*modules: nn.Module) -> tuple:
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for m in modules
                 for t in list(m.parameters(recurse=False)) +
                 list(m.buffers(recurse=False)) if t is not None)


class FoldedConvBN:
    """``bn(conv(x))`` as one convolution with cached folded weights.

    Use only where ``bn`` is in eval mode and no gradient is needed (a
    frozen backbone at inference or in training: its BN never updates).

    The folded weight is stored in the memory format of the input it is
    used with (channels-last inputs get channels-last weights, which spares
    oneDNN a reorder per call), and, under autocast, also in the autocast
    dtype (which spares the cast of every weight on every call).
    """

    def __init__(self) -> None:
        self._cache: Dict[tuple, Tuple[tuple, torch.Tensor, torch.Tensor]] = {}

    def __call__(self, conv: nn.Conv2d, bn: nn.modules.batchnorm._BatchNorm,
                 x: torch.Tensor) -> torch.Tensor:
        """Apply the folded convolution.

        Args:
            conv (nn.Conv2d): the convolution.
            bn (_BatchNorm): the BatchNorm after it, in eval mode.
            x (Tensor): (N, C_in, H, W).

        Returns:
            Tensor: ``bn(conv(x))``, (N, C_out, H', W').
        """
        key = _key(conv, bn)
        fmt = (
            torch.channels_last if x.dim() == 4
            and x.is_contiguous(memory_format=torch.channels_last)
            and not x.is_contiguous() else torch.contiguous_format)
        dtype = autocast_dtype(x.device.type)
        slot = (id(conv), fmt, dtype)
        entry = self._cache.get(slot)
        if entry is None or entry[0] != key:
            weight, bias = fold_conv_bn_weights(conv, bn)
            weight = weight.contiguous(memory_format=fmt)
            if dtype is not None and weight.dtype == torch.float32:
                # (as autocast, which casts fp32 operands only)
                weight, bias = weight.to(dtype), bias.to(dtype)
            entry = (key, weight, bias)
            self._cache[slot] = entry
        return F.conv2d(x, entry[1], entry[2], conv.stride, conv.padding,
                        conv.dilation, conv.groups)
