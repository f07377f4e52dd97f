# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Center-pivot 4D convolution with fewer 6D copies (the fast path).

Same maths, parameters and state-dict keys (``conv1``, ``conv2``) as the
reference :class:`.CenterPivotConv4d`, the same logical input and output
(N, C, Hq, Wq, Hs, Ws); a contiguous input with large support dims gives a
contiguous output (but in CPU half-precision training), the other cases a
channels-last 6D one (:mod:`.conv4d_layout`).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` (query,
support) pairs, ``C`` channels, ``Hq, Wq`` query dims, ``Hs, Ws`` support
dims; ``s`` the support stride, ``Hs', Ws'`` the strided support dims.

The reference permutes the whole 6D input into the two batches of 2D
images its convs need and permutes both results back, copying 6D tensors
four times per layer. Here:

- on a contiguous input with large support dims (the squeeze blocks: the
  correlation and the layers after it, whose GroupNorms want the
  contiguous layout) ``conv2`` is a 3D conv over (Hq Wq, Hs, Ws) with a
  1 x k x k kernel, which reads the input as it lies and writes the output
  in its final layout; ``conv1`` needs only the strided ("pruned")
  support positions: one 1/s^2 copy into 2D images, its result added in
  place;
- on small support dims (Hs Ws <= k^2, e.g. the 2 x 2 of the mix blocks),
  the input in the channels-last 6D layout (copied into it if needed: a
  small tensor), ``conv2`` is one GEMM of the (N Hq Wq, Hs Ws C) input rows
  with the conv's dense operator (:func:`support_conv_operator`; a conv
  over tiny padded images wastes most of its work on the padding, 5 of 9
  taps at 2 x 2), accumulated straight into ``conv1``'s output, and
  ``conv1`` is one grouped conv over the (N, Hs' Ws' C, Hq, Wq) image (a
  group per support position): no other copy;
- on a channels-last 6D input with large support dims (and for CPU
  half-precision training, whose 3D conv backward is slow) both convs run
  on channels-last 2D images: ``conv2`` on (N Hq Wq, C, Hs, Ws), a view,
  ``conv1`` on the pruned (N Hs' Ws', C, Hq, Wq), and the branches add up
  with channel runs contiguous.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from ...utils.autocast import autocast_enabled
from ..execution_policy import exporting
from .center_pivot_conv4d import CenterPivotConv4d
from .conv4d_layout import is_channels_last_6d, to_channels_last_6d
from .support_conv3d import support_conv3d


def _slow_conv3d_backward(x: torch.Tensor) -> bool:
    """Whether a CPU bf16/fp16 3D conv would need a backward pass: PyTorch
    has no fast CPU kernel for that (measured ~10x slower than 2D), so
    such training steps use the 2D convs of the channels-last path."""
    if x.device.type != 'cpu' or not torch.is_grad_enabled():
        return False
    return (x.dtype in (torch.bfloat16, torch.float16)
            or autocast_enabled('cpu'))


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
    with the same outputs up to float rounding (~1e-6 in fp32). With
    ``impl = 'reference'`` (:mod:`hsnet_mm.models.execution_policy`) it
    runs the reference forward.
    """

    #: the execution policy, 'fast' or 'reference' (read in ``forward``)
    impl = 'fast'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the convolution: (N, C_in, Hq, Wq, Hs, Ws) -> (N, C_out,
        Hq, Wq, ceil(Hs / s), ceil(Ws / s)), as the reference."""
        if self.impl == 'reference' or exporting():
            # (exported: the layout tricks are for PyTorch's kernels, and
            # their shape-dependent branches would be frozen in the graph)
            return super().forward(x)
        self._check_input(x)
        hs, ws = x.shape[-2:]
        small_support = hs * ws <= (
            SUPPORT_GEMM_MAX_SIZE_PER_TAP * self.kernel_size**2)
        if not is_channels_last_6d(x):
            if not small_support and not _slow_conv3d_backward(x):
                return self._forward_contiguous(x)
            x = to_channels_last_6d(x)
        if small_support:
            return self._forward_support_gemm(x)
        return self._forward_channels_last(x)

    def _pruned_images(self, x: torch.Tensor) -> torch.Tensor:
        """The pruned support positions of a channels-last 6D ``x`` as
        channels-last images (N Hs' Ws', C, Hq, Wq) (one 1/s^2 copy)."""
        n, c, hq, wq = x.shape[:4]
        pruned = self.prune_support(x)
        hs2, ws2 = pruned.shape[-2:]
        return pruned.permute(0, 4, 5, 2, 3,
                              1).reshape(n * hs2 * ws2, hq, wq,
                                         c).permute(0, 3, 1, 2)

    def _forward_channels_last(self, x: torch.Tensor) -> torch.Tensor:
        """Both convs on channels-last 2D images of a channels-last 6D
        ``x``; the output is written channels-last 6D."""
        n, c, hq, wq, hs, ws = x.shape
        c_out = self.out_channels
        # conv2 over the support dims of every query position: a view
        out = self.conv2(
            x.permute(0, 2, 3, 1, 4, 5).reshape(n * hq * wq, c, hs, ws))
        hs2, ws2 = out.shape[-2:]
        out = out.permute(0, 2, 3, 1).reshape(n, hq * wq, hs2 * ws2, c_out)
        # conv1 over the query dims at the pruned support positions
        out1 = self.conv1(self._pruned_images(x))  # (N Hs' Ws', C_out, ...)
        out1 = out1.permute(0, 2, 3, 1).reshape(n, hs2 * ws2, hq * wq, c_out)
        out = out.add_(out1.transpose(1, 2))
        return out.view(n, hq, wq, hs2, ws2, c_out).permute(0, 5, 1, 2, 3, 4)

    def _forward_contiguous(self, x: torch.Tensor) -> torch.Tensor:
        """The forward for a contiguous ``x`` with large support dims (the
        correlation entering a squeeze block, and the layers after it):
        ``conv2`` as a 3D conv that reads ``x`` in place and writes the
        contiguous output (:func:`.support_conv3d`), ``conv1``'s result
        added as a 2D transpose."""
        s = self.support_stride
        n, c, hq, wq, hs, ws = x.shape
        c_out = self.out_channels
        out = support_conv3d(
            x.reshape(n, c, hq * wq, hs, ws), self.conv2.weight,
            self.conv2.bias, s, self.conv2.padding[0])
        hs2, ws2 = out.shape[-2:]
        # conv1 on NCHW images (N Hs' Ws', C, Hq, Wq): its output (N, Hs'
        # Ws', C_out Hq Wq) is then added as a plain 2D transpose
        pruned = self.prune_support(x)
        pruned = pruned.permute(0, 4, 5, 1, 2,
                                3).reshape(n * hs2 * ws2, c, hq, wq)
        # (reshape: a channels-last conv1, e.g. after
        # ``model.to(memory_format=torch.channels_last)``, writes NHWC)
        out1 = self.conv1(pruned).reshape(n, hs2 * ws2, c_out * hq * wq)
        out1 = out1.transpose(1, 2)
        if out1.dtype in (torch.bfloat16, torch.float16):
            # a strided add is slow in half precision: transpose-copy first
            # (measured 3.6x faster for bf16; for fp32, 1.3x slower)
            out1 = out1.contiguous()
        out = out.reshape(n, c_out * hq * wq, hs2 * ws2)
        return out.add_(out1).view(n, c_out, hq, wq, hs2, ws2)

    def _forward_support_gemm(self, x: torch.Tensor) -> torch.Tensor:
        """The forward for small support dims on a channels-last 6D ``x``:
        ``conv1`` as one grouped conv over the (N, Hs' Ws' C_in, Hq, Wq)
        image, ``conv2`` as one GEMM of the (N Hq Wq, Hs Ws C_in) rows with
        its dense operator (:func:`support_conv_operator`), accumulated
        into ``conv1``'s output."""
        s = self.support_stride
        n, c, hq, wq, hs, ws = x.shape
        c_out = self.out_channels
        op = support_conv_operator(self.conv2.weight, (hs, ws), s,
                                   self.conv2.padding[0])
        # padding k // 2: the conv output is as big as the pruned positions
        pruned = self.prune_support(x)
        hs2, ws2 = pruned.shape[-2:]
        groups = hs2 * ws2
        # rows and columns ordered (Hs, Ws, C) as the channels-last memory
        op = op.view(c, hs * ws, c_out,
                     groups).permute(1, 0, 3,
                                     2).reshape(hs * ws * c, groups * c_out)
        image = pruned.permute(0, 2, 3, 4, 5,
                               1).reshape(n, hq, wq,
                                          groups * c).permute(0, 3, 1, 2)
        bias = self.conv1.bias
        if self.conv2.bias is not None:
            bias = self.conv2.bias if bias is None else bias + self.conv2.bias
        out = F.conv2d(image, self.conv1.weight.repeat(groups, 1, 1, 1),
                       None if bias is None else bias.repeat(groups),
                       self.conv1.stride, self.conv1.padding,
                       self.conv1.dilation, groups)
        rows = x.permute(0, 2, 3, 4, 5, 1).reshape(n * hq * wq, hs * ws * c)
        out = out.permute(0, 2, 3, 1).reshape(n * hq * wq, groups * c_out)
        # (an in-place op: under autocast, cast as autocast casts addmm)
        out = out.addmm_(rows.to(out.dtype), op.to(out.dtype))
        return out.view(n, hq, wq, hs2, ws2, c_out).permute(0, 5, 1, 2, 3, 4)
