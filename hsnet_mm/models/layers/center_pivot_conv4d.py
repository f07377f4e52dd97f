# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Center-pivot 4D convolution, the building block of the HSNet encoder.

Written from the description of the official ``CenterPivotConv4d``
(juhongm999/hsnet, ``model/base/conv4d.py``;
https://arxiv.org/abs/2104.01538, Sec. 3.2).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` (query,
support) pairs, ``C`` channels, ``Hq, Wq`` query dims, ``Hs, Ws`` support
dims; ``s`` the support stride.

A full 4D kernel of size k^4 is replaced by its two "center-pivot" slices:
a k x k kernel over the query dims applied at every kept support position
(``conv1``) plus a k x k kernel over the support dims applied at every query
position (``conv2``). The sum equals a 4D convolution whose kernel is zero
except on the two planes through its centre.

Known differences from the official layer (both official bugs, fixed):

- The official layer computes the strided support index on its first call
  and reuses it for every later input size, which raises or, e.g. from 400
  to 416 px, silently gathers the wrong positions. Here the support dims are
  subsampled with a plain strided slice on every call.
- Pruning depends only on the support stride, not on a cached flag.
"""
import torch
import torch.nn as nn
from mmseg.registry import MODELS


@MODELS.register_module()
class CenterPivotConv4d(nn.Module):
    """Center-pivot 4D convolution over (query, support) dims.

    Registered in mmseg's ``MODELS`` as mmcv registers ``Conv2d``: the
    encoder builds it from ``conv4d_cfg`` with
    ``MODELS.build(dict(conv4d_cfg, in_channels=..., out_channels=...,
    kernel_size=..., support_stride=...))``, so any other 4D conv with this
    constructor signature, registered the same way, can replace it.

    Args:
        in_channels (int): input channels C_in.
        out_channels (int): output channels C_out.
        kernel_size (int): odd kernel size k used over both query and
            support dims; padding is k // 2.
        support_stride (int): stride s over the support dims; the query dims
            are never strided. Defaults to 1.
        bias (bool): whether both 2D convs have a bias (their sum is the
            effective bias). Defaults to True.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int,
                 support_stride: int = 1,
                 bias: bool = True) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f'kernel_size must be odd, got {kernel_size}')
        if support_stride < 1:
            raise ValueError(
                f'support_stride must be >= 1, got {support_stride}')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.support_stride = support_stride
        pad = kernel_size // 2
        # conv1: k x k over the query dims, at the kept support positions.
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, kernel_size, padding=pad, bias=bias)
        # conv2: k x k over the support dims (strided), at every query pos.
        self.conv2 = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=support_stride,
            padding=pad,
            bias=bias)

    def prune_support(self, x: torch.Tensor) -> torch.Tensor:
        """The support positions ``conv1`` runs at: every s-th of both
        support dims, (N, C, Hq, Wq, ceil(Hs / s), ceil(Ws / s)) (a view)."""
        s = self.support_stride
        return x[..., ::s, ::s] if s > 1 else x

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 6:
            raise ValueError(f'{type(self).__name__} expects a 6D tensor (N, '
                             f'C, Hq, Wq, Hs, Ws), got shape {tuple(x.shape)}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the convolution.

        Args:
            x (Tensor): (N, C_in, Hq, Wq, Hs, Ws).

        Returns:
            Tensor: (N, C_out, Hq, Wq, ceil(Hs / s), ceil(Ws / s)).
        """
        self._check_input(x)
        n, c, hq, wq, hs, ws = x.shape
        c_out = self.out_channels

        # Branch 1: query conv at the strided ("pruned") support positions.
        pruned = self.prune_support(x)
        hs1, ws1 = pruned.shape[-2:]
        out1 = pruned.permute(0, 4, 5, 1, 2,
                              3).reshape(n * hs1 * ws1, c, hq, wq)
        out1 = self.conv1(out1).view(n, hs1, ws1, c_out, hq, wq)
        out1 = out1.permute(0, 3, 4, 5, 1, 2)

        # Branch 2: support conv at every query position.
        out2 = x.permute(0, 2, 3, 1, 4, 5).reshape(n * hq * wq, c, hs, ws)
        out2 = self.conv2(out2)
        hs2, ws2 = out2.shape[-2:]
        out2 = out2.view(n, hq, wq, c_out, hs2, ws2).permute(0, 3, 1, 2, 4, 5)
        return out1 + out2

    def extra_repr(self) -> str:
        return (f'{self.in_channels}, {self.out_channels}, '
                f'kernel_size={self.kernel_size}, '
                f'support_stride={self.support_stride}')
