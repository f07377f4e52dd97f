# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The 4D encoder of HSNet: squeeze blocks, top-down mix blocks.

Written from the description of the official ``HPNLearner``
(juhongm999/hsnet, ``model/learner.py``; https://arxiv.org/abs/2104.01538,
Sec. 3.2-3.3).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` (query,
support) pairs, ``L_i`` correlation layers of level i, ``C`` channels,
``Hq, Wq`` query dims, ``Hs, Ws`` support dims.

Known difference from the official learner (an official bug, fixed): its
center-pivot conv caches the support index of the first input size (see
:mod:`..layers.center_pivot_conv4d`); here any size works in any order. (The
official learner averages the support dims with ``.view(...).mean(-1)``,
which keeps the batch dim at batch size 1, as here; the bare ``squeeze()``
of the official code is in its 4D conv's padding-0 branch, which HSNet
never takes.)
"""
from typing import List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import OptMultiConfig

from ..execution_policy import check_impl, set_impl

#: The official squeeze blocks (deepest level first): three 4D convs each,
#: their output channels, kernel sizes and support strides.
SQUEEZE_CHANNELS = (16, 64, 128)
SQUEEZE_KERNELS = ((3, 3, 3), (5, 3, 3), (5, 5, 3))
SQUEEZE_STRIDES = ((2, 2, 2), (4, 2, 2), (4, 4, 2))
#: The official mix blocks: three stride-1 4D convs each.
MIX_CHANNELS = (128, 128, 128)
MIX_KERNELS = (3, 3, 3)
#: the 4D conv built when ``conv4d_cfg`` is not given: it runs the fast or
#: the reference forward by its ``impl``
DEFAULT_CONV4D = dict(type='FastCenterPivotConv4d')


def resize_query_dims(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize the query dims of a 4D feature (bilinear, corners aligned).

    The official helper is named ``interpolate_support_dims`` but resizes
    the **query** dims; the support dims are never interpolated.

    Args:
        x (Tensor): (N, C, Hq, Wq, Hs, Ws).
        size (Sequence[int]): the new (Hq', Wq').

    Returns:
        Tensor: (N, C, Hq', Wq', Hs, Ws).
    """
    n, c, hq, wq, hs, ws = x.shape
    x = x.permute(0, 4, 5, 1, 2, 3).reshape(n * hs * ws, c, hq, wq)
    x = F.interpolate(x, tuple(size), mode='bilinear', align_corners=True)
    hq2, wq2 = x.shape[-2:]
    return x.view(n, hs, ws, c, hq2, wq2).permute(0, 3, 4, 5, 1, 2)


def make_conv4d_block(in_channels: int, out_channels: Sequence[int],
                      kernel_sizes: Sequence[int],
                      support_strides: Sequence[int], num_groups: int,
                      conv4d_cfg: dict) -> nn.Sequential:
    """Stack [4D conv -> GroupNorm -> ReLU] x n (official building block).

    GroupNorm sees the whole 6D tensor, so its statistics run over
    (channels of a group, Hq, Wq, Hs, Ws). Indices in the Sequential are
    conv 0, 3, 6, ...; GroupNorm 1, 4, 7, ...; ReLU 2, 5, 8, ...
    """
    if not len(out_channels) == len(kernel_sizes) == len(support_strides):
        raise ValueError('out_channels, kernel_sizes and support_strides '
                         'must have the same length')
    layers: List[nn.Module] = []
    for out_ch, k, s in zip(out_channels, kernel_sizes, support_strides):
        layers += [
            MODELS.build(
                dict(
                    conv4d_cfg,
                    in_channels=in_channels,
                    out_channels=out_ch,
                    kernel_size=k,
                    support_stride=s)),
            nn.GroupNorm(num_groups, out_ch),
            nn.ReLU(inplace=True)
        ]
        in_channels = out_ch
    return nn.Sequential(*layers)


@MODELS.register_module()
class CenterPivot4DEncoder(BaseModule):
    """Squeeze each hypercorrelation level, mix them top-down, pool support.

    Each level's correlation stack is squeezed by a block of center-pivot 4D
    convs that stride over the support dims only. Then, from the deepest
    level down, the coarser result's query dims are resized to the finer
    level's, added to it and passed through a mix block. Finally the support
    dims are averaged away.

    Args:
        in_channels (Sequence[int]): correlation layers per level, deepest
            first, e.g. (3, 6, 4) for ResNet-50, (3, 23, 4) for ResNet-101,
            (1, 3, 3) for VGG16.
        squeeze_channels (Sequence[int]): output channels of the convs of
            every squeeze block. Defaults to :data:`SQUEEZE_CHANNELS`,
            (16, 64, 128).
        squeeze_kernels (Sequence[Sequence[int]]): kernel sizes per squeeze
            block (deepest first). Defaults to :data:`SQUEEZE_KERNELS`,
            ((3, 3, 3), (5, 3, 3), (5, 5, 3)).
        squeeze_strides (Sequence[Sequence[int]]): support strides per
            squeeze block. Defaults to :data:`SQUEEZE_STRIDES`,
            ((2, 2, 2), (4, 2, 2), (4, 4, 2)).
        mix_channels (Sequence[int]): output channels of the convs of every
            mix block. Defaults to :data:`MIX_CHANNELS`, (128, 128, 128).
        mix_kernels (Sequence[int]): their kernel sizes (stride 1).
            Defaults to :data:`MIX_KERNELS`, (3, 3, 3).
        num_groups (int): GroupNorm groups. Defaults to 4.
        impl (str): the execution policy of the 4D convs
            (:mod:`hsnet_mm.models.execution_policy`): ``'fast'`` or
            ``'reference'`` (the straightforward :class:`CenterPivotConv4d`
            forward, kept as the correctness oracle); same parameters,
            outputs equal up to float rounding. Inside ``HSNet``, its
            ``impl`` sets it; on its own, ``set_impl(encoder, impl)``
            switches it. Defaults to ``'fast'``.
        conv4d_cfg (dict, optional): the 4D conv, a type registered in
            mmseg's ``MODELS`` taking ``(in_channels, out_channels,
            kernel_size, support_stride)``; other keys go to its
            constructor (a conv without an ``impl`` attribute always runs
            its own forward). Defaults to None
            (:class:`FastCenterPivotConv4d`).
        with_cp (bool): activation checkpointing: in training, every
            squeeze and mix block keeps only its input and recomputes its
            activations in the backward pass (less memory, ~1 more forward
            of the encoder). Defaults to False.
        init_cfg (dict, optional): Defaults to None (PyTorch's default
            init, as the official).
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 *,
                 squeeze_channels: Sequence[int] = SQUEEZE_CHANNELS,
                 squeeze_kernels: Sequence[Sequence[int]] = SQUEEZE_KERNELS,
                 squeeze_strides: Sequence[Sequence[int]] = SQUEEZE_STRIDES,
                 mix_channels: Sequence[int] = MIX_CHANNELS,
                 mix_kernels: Sequence[int] = MIX_KERNELS,
                 num_groups: int = 4,
                 impl: str = 'fast',
                 conv4d_cfg: Optional[dict] = None,
                 with_cp: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_impl(impl)
        if conv4d_cfg is None:
            conv4d_cfg = DEFAULT_CONV4D
        self.with_cp = with_cp
        num_levels = len(in_channels)
        if not (len(squeeze_kernels) == len(squeeze_strides) == num_levels):
            raise ValueError(
                f'{num_levels} levels (in_channels={tuple(in_channels)}) '
                f'need {num_levels} squeeze_kernels and squeeze_strides')
        if squeeze_channels[-1] != mix_channels[-1]:
            raise ValueError('squeeze and mix blocks must end with the same '
                             'number of channels')
        self.in_channels = tuple(in_channels)
        self.squeeze_strides = tuple(tuple(s) for s in squeeze_strides)
        self.out_channels = mix_channels[-1]
        self.squeeze_blocks = nn.ModuleList([
            make_conv4d_block(c, squeeze_channels, k, s, num_groups,
                              conv4d_cfg)
            for c, k, s in zip(in_channels, squeeze_kernels, squeeze_strides)
        ])
        ones = [1] * len(mix_channels)
        self.mix_blocks = nn.ModuleList([
            make_conv4d_block(squeeze_channels[-1], mix_channels, mix_kernels,
                              ones, num_groups, conv4d_cfg)
            for _ in range(num_levels - 1)
        ])
        self.impl = impl
        set_impl(self, impl)  # its 4D convs

    def forward(self, pyramid: Sequence[torch.Tensor]) -> torch.Tensor:
        """Encode the pyramid.

        Args:
            pyramid (Sequence[Tensor]): deepest level first; level i is
                (N, L_i, Hq_i, Wq_i, Hs_i, Ws_i).

        Returns:
            Tensor: (N, C, Hq, Wq) at the finest level's query size.
        """
        if len(pyramid) != len(self.squeeze_blocks):
            raise ValueError(f'expected {len(self.squeeze_blocks)} pyramid '
                             f'levels, got {len(pyramid)}')
        for level, (corr, ch) in enumerate(zip(pyramid, self.in_channels)):
            if corr.dim() != 6 or corr.shape[1] != ch:
                raise ValueError(
                    f'pyramid level {level} must be (N, {ch}, Hq, Wq, Hs, '
                    f'Ws), got {tuple(corr.shape)}')
        squeezed = [
            self._run(blk, x) for blk, x in zip(self.squeeze_blocks, pyramid)
        ]
        support_sizes = [tuple(map(int, x.shape[-2:])) for x in squeezed]
        if len(set(support_sizes)) != 1:
            raise ValueError(
                'the squeezed support dims of the pyramid levels differ '
                f'({support_sizes}, deepest first; the levels came in as '
                f'{[tuple(x.shape[-2:]) for x in pyramid]}): this input size '
                'does not fit the squeeze strides '
                f'{[tuple(s) for s in self.squeeze_strides]} (e.g. VGG16 at '
                '264-271 px). Change the input size, or squeeze_strides '
                '(deepest first) so every level ends at one support size')
        mixed = squeezed[0]
        for finer, mix in zip(squeezed[1:], self.mix_blocks):
            mixed = self._run(
                mix,
                resize_query_dims(mixed, finer.shape[2:4]) + finer)
        # (contiguous: the fast mix blocks write channels-last 6D)
        return mixed.mean(dim=(-2, -1)).contiguous()

    def _run(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Run a block, checkpointed if ``with_cp`` and grads are needed."""
        if self.with_cp and self.training and torch.is_grad_enabled():
            return cp.checkpoint(block, x, use_reentrant=False)
        return block(x)
