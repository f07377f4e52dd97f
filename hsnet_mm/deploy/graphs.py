# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The two graphs an HSNet is exported as, so that supports are encoded once.

- **encoder**: normalised images (N, 3, H, W) -> the backbone's feature
  maps, flattened level by level (deepest level first, as
  :class:`~hsnet_mm.structures.FeatureGroups`).
- **predictor**: B queries' maps, one support set's K maps and K masks ->
  per-shot logits (B, K, 2, h, w) at the decoder's resolution (``h, w`` =
  ``2 Hq, 2 Wq``: H/4, W/4 for ResNets), as ``HSNet._shot_logits``. The
  resize (to the input size, or straight to the original size), the K-shot
  vote and the packing stay in the host code
  (:func:`~hsnet_mm.models.segmentors.pack_episode_predictions`), shared
  with PyTorch: both give the same masks by construction.

The graphs are traced with B = K = 2 so that neither is frozen into them:
one export serves any number of queries and shots, and any input size
(the sizes stay symbolic). While tracing, the execution policy takes its
export choices (:func:`~hsnet_mm.models.execution_policy.exporting`).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` images, ``B``
queries, ``K`` shots, ``C_l`` channels of map l, ``h_l, w_l`` its size,
``H, W`` input size, ``h, w`` the decoder's output size.
"""
import copy
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn

from ..models.layers.correlation import resize_support_mask
from ..models.segmentors.pair_chunks import pair_features
from ..structures import FeatureGroups, SupportFeatures


class ExportGroupNorm(nn.Module):
    """``nn.GroupNorm`` whose statistics survive float32 runtimes.

    ONNX's ``InstanceNormalization`` / ``ReduceMean`` sum a group in one
    float32 pass: over the 1.6 M values of a squeeze block's group at
    400 px, ONNX Runtime's GroupNorm was 4e-3 off PyTorch's (and the logits
    0.1 off); a mean over the last dims then over the rest still left
    OpenVINO's logits 3e-4 off (it merges consecutive ReduceMeans into one
    long sum). Here each statistic is a mean over one dimension at a time
    (the group's channels with Hq, then Wq, Hs, Ws: at most a few hundred
    values each, a tree of sums; ReduceSum and ReduceMean alternate so that
    no runtime merges them), and the variance is taken around the mean (two
    passes): within 2e-5 of PyTorch's logits on both runtimes.

    Args:
        norm (nn.GroupNorm): the layer to replace (its parameters are
            shared, not copied).
    """

    def __init__(self, norm: nn.GroupNorm) -> None:
        super().__init__()
        self.num_groups = norm.num_groups
        self.eps = norm.eps
        self.weight = norm.weight
        self.bias = norm.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise x (N, C, ...) per sample and group of channels."""
        c = x.shape[1]
        # (N G, C/G [Hq], [Wq,] h, w): at most 5 dims (OpenVINO's CPU
        # plugin computed 7-dim reductions wrongly)
        kept = x.shape[max(2, x.dim() - 3):]
        y = x.reshape(x.shape[0] * self.num_groups, -1, *kept)
        mean = _mean_per_dim(y)
        centred = y - mean
        var = _mean_per_dim(centred * centred)
        y = (centred * torch.rsqrt(var + self.eps)).reshape(x.shape)
        if self.weight is None:
            return y
        shape = (1, c) + (1, ) * (x.dim() - 2)
        return y * self.weight.reshape(shape) + self.bias.reshape(shape)


def _mean_per_dim(y: torch.Tensor) -> torch.Tensor:
    """The mean of y (N G, ...) over every dim after the first, one dim at
    a time, the last first (kept as size-1 dims)."""
    shape = (y.shape[0], ) + (1, ) * (y.dim() - 1)
    for i in range(y.dim() - 1):
        # a sum / count every other dim: runtimes merge consecutive
        # ReduceMeans into one long float32 sum (OpenVINO: 5e-4 off)
        y = y.mean(-1) if i % 2 else y.sum(-1) / y.shape[-1]
    return y.reshape(shape)


def export_friendly(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode for tracing: its GroupNorms
    replaced by :class:`ExportGroupNorm` (the same function), and the
    support masking taken out of the neck (:class:`PredictorGraph` masks
    with masks resized on the host, :func:`level_masks`)."""
    mask_support = getattr(model.neck, 'mask_support', False)
    model = copy.deepcopy(model).cpu().float().eval().requires_grad_(False)
    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, nn.GroupNorm):
                setattr(module, name, ExportGroupNorm(child))
    if mask_support:
        model.neck.mask_support = False
    model.masks_support_in_graph = mask_support
    return model


def level_masks(masks: torch.Tensor,
                groups: FeatureGroups) -> List[torch.Tensor]:
    """The support masks (K, H, W) resized to each level's maps, (K, 1,
    h_l, w_l): the predictor's mask inputs, made by PyTorch's resize."""
    out = []
    for level in groups:
        sizes = {tuple(int(s) for s in f.shape[-2:]) for f in level}
        if len(sizes) != 1:
            raise ValueError(f'the maps of a pyramid level differ in size '
                             f'({sorted(sizes)}): not exportable')
        out.append(resize_support_mask(masks.float(), sizes.pop()))
    return out


def flatten_levels(groups: FeatureGroups) -> Tuple[torch.Tensor, ...]:
    """Feature maps grouped by level -> one flat tuple."""
    return tuple(f for level in groups for f in level)


def group_levels(flat: Sequence[torch.Tensor],
                 level_sizes: Sequence[int]) -> List[List[torch.Tensor]]:
    """A flat sequence of maps -> grouped by level (``level_sizes`` maps
    per level, deepest first)."""
    if len(flat) != sum(level_sizes):
        raise ValueError(f'expected {sum(level_sizes)} feature maps '
                         f'({list(level_sizes)} per level), got {len(flat)}')
    out, start = [], 0
    for size in level_sizes:
        out.append(list(flat[start:start + size]))
        start += size
    return out


class EncoderGraph(nn.Module):
    """images (N, 3, H, W) -> the backbone's maps (N, C_l, h_l, w_l), flat.

    Args:
        model (nn.Module): an HSNet (``extract_feat``).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, imgs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        return flatten_levels(self.model.extract_feat(imgs))


class PredictorGraph(nn.Module):
    """Query maps, support maps and masks -> per-shot logits.

    Inputs (flat, in this order): the B queries' maps (B, C_l, h_l, w_l),
    the K supports' maps (K, C_l, h_l, w_l), the support masks (float 0/1)
    resized to each level (K, 1, h_l, w_l) (:func:`level_masks`). Output:
    logits (B, K, 2, h, w) at the decoder's resolution, channel 1 the
    foreground.

    Args:
        model (nn.Module): an HSNet from :func:`export_friendly`.
        level_sizes (Sequence[int]): maps per pyramid level, deepest first.
    """

    def __init__(self, model: nn.Module, level_sizes: Sequence[int]) -> None:
        super().__init__()
        self.model = model
        self.level_sizes = tuple(level_sizes)

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        num_maps, num_levels = sum(self.level_sizes), len(self.level_sizes)
        query = group_levels(args[:num_maps], self.level_sizes)
        support = group_levels(args[num_maps:2 * num_maps], self.level_sizes)
        resized = args[2 * num_maps:2 * num_maps + num_levels]
        if self.model.masks_support_in_graph:
            support = [[f * mask for f in level]
                       for level, mask in zip(support, resized)]
        support = SupportFeatures(
            feats=support,
            masks=resized[0][:, 0],  # (unused: the neck masks no more)
            num_shots=resized[0].shape[0],  # symbolic while traced
            batch_size=1)
        feats = self.model.encode_pairs(*pair_features(query, support))
        logits = self.model.decode_head([feats])
        return logits.view(args[0].shape[0], -1, *logits.shape[1:])
