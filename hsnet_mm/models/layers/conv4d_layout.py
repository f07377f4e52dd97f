# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The channels-last memory layout of 4D-conv features.

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` (query,
support) pairs, ``C`` channels, ``Hq, Wq`` query dims, ``Hs, Ws`` support
dims.

A 4D-conv feature is the logical 6D tensor (N, C, Hq, Wq, Hs, Ws) whatever
its memory layout. *Channels-last 6D* stores it as (N, Hq, Wq, Hs, Ws, C):

- the support-dim conv reads it as a batch of channels-last 2D images
  (N Hq Wq, C, Hs, Ws) and writes the same layout: no copy;
- on small support dims, its (N Hq Wq, Hs Ws C) rows are one GEMM operand
  and its (N, Hs Ws C, Hq, Wq) view is a channels-last image for the
  query-dim conv run as a grouped conv (one group per support position);
- the two branches then add up in one layout, channel runs contiguous
  (a plain 2D transpose of a (C, Hq Wq) by (Hs Ws) block costs more,
  above all in bf16).

The values never depend on the layout, only the speed does. (GroupNorm
copies such an input into the standard layout: PyTorch's channels-last
GroupNorm kernel computes the variance as E[x^2] - E[x]^2, measured 4e-4
off for features of mean 10, so it is not used.)
"""
import torch


def is_channels_last_6d(x: torch.Tensor) -> bool:
    """Whether a 6D tensor is laid out (N, Hq, Wq, Hs, Ws, C) in memory."""
    return x.dim() == 6 and x.permute(0, 2, 3, 4, 5, 1).is_contiguous()


def to_channels_last_6d(x: torch.Tensor) -> torch.Tensor:
    """(N, C, Hq, Wq, Hs, Ws) in the channels-last 6D layout (copied unless
    it already is)."""
    return x.permute(0, 2, 3, 4, 5, 1).contiguous().permute(0, 5, 1, 2, 3, 4)
