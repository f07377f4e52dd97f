# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Center-pivot 4D convolution with fewer 6D copies (the fast path).

Same maths, parameters and state-dict keys (``conv1``, ``conv2``) as the
reference :class:`.CenterPivotConv4d`; input and output layouts are the
same too (contiguous (N, C, Hq, Wq, Hs, Ws)).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` (query,
support) pairs, ``C`` channels, ``Hq, Wq`` query dims, ``Hs, Ws`` support
dims; ``s`` the support stride.

The reference permutes the whole 6D input into the two batches of 2D
images its convs need and permutes both results back, copying 6D tensors
four times per layer. Here

- the support-dim conv ``conv2`` is a 3D conv over (Hq Wq, Hs, Ws) with a
  1 x k x k kernel, which reads the input as it lies and writes the output
  in the final layout (no copy);
- the query-dim conv ``conv1`` needs only the strided ("pruned") support
  positions: one 1/s^2 copy into 2D images, and its result is added in
  place;
- on small support dims (Hs Ws <= k^2, e.g. the 2 x 2 of the mix blocks)
  ``conv2`` is one GEMM of the (N Hq Wq, C Hs Ws) input rows with the
  conv's dense (C Hs Ws, C_out Hs' Ws') operator
  (:func:`support_conv_operator`): a conv over tiny padded images wastes
  most of its work on the padding (5 of 9 taps at 2 x 2).
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from .center_pivot_conv4d import CenterPivotConv4d


def _cpu_autocast_enabled() -> bool:
    try:  # torch >= 2.4
        return torch.is_autocast_enabled('cpu')
    except TypeError:  # torch 2.1-2.3
        return torch.is_autocast_cpu_enabled()


def _slow_conv3d_backward(x: torch.Tensor) -> bool:
    """Whether a CPU bf16/fp16 3D conv would need a backward pass: PyTorch
    has no fast CPU kernel for that (measured ~10x slower than 2D), so
    such training steps use the 2D-conv formulation."""
    if x.device.type != 'cpu' or not torch.is_grad_enabled():
        return False
    return (x.dtype in (torch.bfloat16, torch.float16)
            or _cpu_autocast_enabled())


#: the support-dim conv runs as one GEMM with its dense (Hs Ws -> Hs' Ws')
#: operator when Hs Ws <= this x k^2 (small support dims, e.g. the 2 x 2 of
#: the mix blocks, where a conv over tiny images is inefficient)
SUPPORT_GEMM_MAX_SIZE_PER_TAP = 1


def support_conv_operator(weight: torch.Tensor, support_size: Sequence[int],
                          stride: int, padding: int) -> torch.Tensor:
    """The dense matrix of a 2D conv over a small (Hs, Ws) image.

    Each entry is one kernel weight or an exact zero, so multiplying by it
    computes the same sums as the convolution (up to summation order).

    Args:
        weight (Tensor): conv weight, (C_out, C_in, k, k).
        support_size (Sequence[int]): the input size (Hs, Ws).
        stride (int): the conv stride s.
        padding (int): the conv zero padding.

    Returns:
        Tensor: (C_in Hs Ws, C_out Hs' Ws'), rows ordered (C_in, Hs, Ws)
        and columns (C_out, Hs', Ws').
    """
    c_out, c_in, k, _ = weight.shape
    hs, ws = support_size
    hs2 = (hs + 2 * padding - k) // stride + 1
    ws2 = (ws + 2 * padding - k) // stride + 1
    dev = weight.device
    # kernel tap of (output position, input position); k * k = no tap
    di = (
        torch.arange(hs, device=dev)[None, :] -
        stride * torch.arange(hs2, device=dev)[:, None] + padding)
    dj = (
        torch.arange(ws, device=dev)[None, :] -
        stride * torch.arange(ws2, device=dev)[:, None] + padding)
    tap = (di[:, None, :, None] * k + dj[None, :, None, :])
    valid = ((di >= 0) &
             (di < k))[:, None, :, None] & ((dj >= 0) &
                                            (dj < k))[None, :, None, :]
    tap = torch.where(valid, tap, torch.full_like(tap, k * k))
    flat = torch.cat(
        [weight.reshape(c_out, c_in, k * k),
         weight.new_zeros(c_out, c_in, 1)], 2)
    op = flat[:, :, tap.reshape(-1)].view(c_out, c_in, hs2, ws2, hs, ws)
    return op.permute(1, 4, 5, 0, 2, 3).reshape(c_in * hs * ws,
                                                c_out * hs2 * ws2)


@MODELS.register_module()
class FastCenterPivotConv4d(CenterPivotConv4d):
    """Center-pivot 4D convolution, exact and faster than the reference.

    Drop-in for :class:`.CenterPivotConv4d`, whose constructor (arguments,
    ``conv1``/``conv2`` parameters) it inherits: only the forward differs,
    with the same outputs up to float rounding (~1e-6 in fp32).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the convolution: (N, C_in, Hq, Wq, Hs, Ws) -> (N, C_out,
        Hq, Wq, ceil(Hs / s), ceil(Ws / s)), as the reference."""
        self._check_input(x)
        s = self.support_stride
        n, c, hq, wq, hs, ws = x.shape
        c_out = self.out_channels
        if _slow_conv3d_backward(x):
            return super().forward(x)  # the 2D-conv formulation
        if hs * ws <= SUPPORT_GEMM_MAX_SIZE_PER_TAP * self.kernel_size**2:
            return self._forward_support_gemm(x)
        # Branch 2: support conv at every query position, as a 3D conv.
        out = F.conv3d(
            x.reshape(n, c, hq * wq, hs, ws),
            self.conv2.weight.unsqueeze(2),
            self.conv2.bias,
            stride=(1, s, s),
            padding=(0, ) + tuple(self.conv2.padding))
        hs2, ws2 = out.shape[-2:]
        # Branch 1: query conv at the pruned support positions, on NCHW
        # images (N hs2 ws2, C, Hq, Wq): its output (N, hs2 ws2, C_out Hq Wq)
        # is then added as a plain 2D transpose, measured ~2x faster than
        # from a channels-last (C innermost) output
        pruned = x[..., ::s, ::s] if s > 1 else x
        pruned = pruned.permute(0, 4, 5, 1, 2,
                                3).reshape(n * hs2 * ws2, c, hq, wq)
        out1 = self.conv1(pruned).view(n, hs2 * ws2, c_out * hq * wq)
        out = out.view(n, c_out * hq * wq, hs2 * ws2)
        return out.add_(out1.transpose(1, 2)).view(n, c_out, hq, wq, hs2, ws2)

    def _forward_support_gemm(self, x: torch.Tensor) -> torch.Tensor:
        """The forward for small support dims: ``conv2`` as one GEMM of
        the (N Hq Wq, C_in Hs Ws) input rows with the conv's dense
        operator (:func:`support_conv_operator`)."""
        s = self.support_stride
        n, c, hq, wq, hs, ws = x.shape
        c_out = self.out_channels
        op = support_conv_operator(self.conv2.weight, (hs, ws), s,
                                   self.conv2.padding[0])
        # padding k // 2: the conv output is as big as the pruned positions
        pruned = x[..., ::s, ::s] if s > 1 else x
        hs2, ws2 = pruned.shape[-2:]
        rows = x.permute(0, 2, 3, 1, 4, 5).reshape(n * hq * wq, c * hs * ws)
        if self.conv2.bias is None:
            out2 = rows @ op
        else:
            out2 = torch.addmm(
                self.conv2.bias.repeat_interleave(hs2 * ws2), rows, op)
        out2 = out2.view(n, hq, wq, c_out, hs2, ws2).permute(0, 3, 1, 2, 4, 5)
        pruned = pruned.permute(0, 4, 5, 2, 3,
                                1).reshape(n * hs2 * ws2, hq, wq,
                                           c).permute(0, 3, 1, 2)
        out1 = self.conv1(pruned).permute(0, 2, 3, 1).reshape(
            n, hs2, ws2, hq, wq, c_out).permute(0, 5, 3, 4, 1, 2)
        # one copy of out1 into the contiguous output layout, then in place
        return out1.contiguous().add_(out2)
