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
  positions: that 1/s^2 copy is made channels-last, the 2D conv layout
  oneDNN/cuDNN prefer, and its result is added in place.
"""
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
        # Branch 2: support conv at every query position, as a 3D conv.
        out = F.conv3d(
            x.reshape(n, c, hq * wq, hs, ws),
            self.conv2.weight.unsqueeze(2),
            self.conv2.bias,
            stride=(1, s, s),
            padding=(0, ) + tuple(self.conv2.padding))
        hs2, ws2 = out.shape[-2:]
        # Branch 1: query conv at the pruned support positions.
        pruned = x[..., ::s, ::s] if s > 1 else x
        pruned = pruned.permute(0, 4, 5, 2, 3,
                                1).reshape(n * hs2 * ws2, hq, wq,
                                           c).permute(0, 3, 1, 2)
        out1 = self.conv1(pruned).permute(0, 2, 3, 1).reshape(
            n, hs2, ws2, hq, wq, c_out).permute(0, 5, 3, 4, 1, 2)
        return out.view(n, c_out, hq, wq, hs2, ws2).add_(out1)
