# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Parameter-free hypercorrelation math: support masking, cosine correlation.

Written from the description of the official HSNet
(juhongm999/hsnet, ``model/base/correlation.py`` and ``mask_feature`` in
``model/hsnet.py``; https://arxiv.org/abs/2104.01538).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` (query,
support) pairs, ``C`` feature channels, ``Hq, Wq`` / ``Hs, Ws`` query /
support feature size, ``L`` feature layers stacked in one pyramid level.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F

from ...utils.autocast import autocast_dtype
from ..execution_policy import exporting


def _to_fp32_if_half(x: torch.Tensor) -> torch.Tensor:
    """Half-precision features (autocast) are normalised in fp32."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


def mask_support_feature(feat: torch.Tensor,
                         mask: torch.Tensor) -> torch.Tensor:
    """Multiply a support feature map by its mask resized to the map.

    As the official code, the mask is resized bilinearly with
    ``align_corners=True``, so values on object borders are fractional.

    Args:
        feat (Tensor): support feature, (N, C, Hs, Ws).
        mask (Tensor): float 0/1 support mask at image size, (N, H, W).

    Returns:
        Tensor: the masked feature, (N, C, Hs, Ws).
    """
    return feat * resize_support_mask(mask.to(feat.dtype), feat.shape[-2:])


def resize_support_mask(mask: torch.Tensor,
                        size: Sequence[int]) -> torch.Tensor:
    """Resize support masks (N, H, W) to a feature map's (h, w), bilinearly
    with aligned corners (the official way): (N, 1, h, w).

    An exported model calls it on the host (:mod:`hsnet_mm.deploy`): a
    runtime's Resize may round a border weight to 1e-7 where PyTorch gives
    0, and a support feature scaled by 1e-7 still has a unit-norm direction
    (the cosine's ``eps`` is 1e-5): a 0.5 difference in the correlation.
    """
    return F.interpolate(
        mask.unsqueeze(1), size=size, mode='bilinear', align_corners=True)


def cosine_correlation(query_feat: torch.Tensor,
                       support_feat: torch.Tensor,
                       eps: float = 1e-5) -> torch.Tensor:
    """Dense cosine similarity of every query and support position, ReLU'd.

    Each position's C-vector is divided by ``its L2 norm + eps`` (eps added
    to the norm, not to the squared norm, as the official), so a zero
    (masked-out) vector stays zero.

    Args:
        query_feat (Tensor): (N, C, Hq, Wq).
        support_feat (Tensor): (N, C, Hs, Ws).
        eps (float): added to the L2 norms. Defaults to 1e-5.

    Returns:
        Tensor: 4D correlation clamped at 0, (N, Hq, Wq, Hs, Ws), query dims
        first.
    """
    if query_feat.shape[:2] != support_feat.shape[:2]:
        raise ValueError('query and support features must share (N, C), got '
                         f'{tuple(query_feat.shape)} and '
                         f'{tuple(support_feat.shape)}')
    n, c, hq, wq = query_feat.shape
    hs, ws = support_feat.shape[-2:]
    query = query_feat.reshape(n, c, hq * wq)
    support = support_feat.reshape(n, c, hs * ws)
    query, support = _to_fp32_if_half(query), _to_fp32_if_half(support)
    query = query / (query.norm(dim=1, p=2, keepdim=True) + eps)
    support = support / (support.norm(dim=1, p=2, keepdim=True) + eps)
    corr = torch.bmm(query.transpose(1, 2), support)
    return corr.view(n, hq, wq, hs, ws).clamp(min=0)


def stack_level_correlations(query_feats: Sequence[torch.Tensor],
                             support_feats: Sequence[torch.Tensor],
                             eps: float = 1e-5) -> torch.Tensor:
    """Correlate the layers of one pyramid level and stack them.

    Args:
        query_feats (Sequence[Tensor]): L query features, each
            (N, C_l, Hq, Wq), shallow to deep.
        support_feats (Sequence[Tensor]): the L (masked) support features,
            each (N, C_l, Hs, Ws).
        eps (float): see :func:`cosine_correlation`.

    Returns:
        Tensor: (N, L, Hq, Wq, Hs, Ws), layers in shallow-to-deep order.
    """
    if len(query_feats) != len(support_feats) or not query_feats:
        raise ValueError('a pyramid level needs the same non-zero number of '
                         f'query ({len(query_feats)}) and support '
                         f'({len(support_feats)}) features')
    corrs: List[torch.Tensor] = [
        cosine_correlation(q, s, eps)
        for q, s in zip(query_feats, support_feats)
    ]
    return torch.stack(corrs, dim=1)


def batched_level_correlations(query_feats: Sequence[torch.Tensor],
                               support_feats: Sequence[torch.Tensor],
                               eps: float = 1e-5,
                               sparse: bool = True) -> torch.Tensor:
    """Same as :func:`stack_level_correlations`, as batched GEMMs.

    The L layers of a level share (C, Hq, Wq) and (C, Hs, Ws) (e.g. the
    blocks of one ResNet stage), so their normalised features are stacked
    and multiplied at once into the stacked (N, L, Hq, Wq, Hs, Ws) tensor:
    no per-layer results and no stacking copy of the large correlations.
    On large levels only the support positions the masks keep are
    multiplied when ``sparse`` (:func:`_correlate_nonzero_columns`). Levels
    whose layers differ in shape fall back to
    :func:`stack_level_correlations`.

    Args:
        query_feats (Sequence[Tensor]): L query features, each
            (N, C, Hq, Wq), shallow to deep.
        support_feats (Sequence[Tensor]): the L (masked) support features,
            each (N, C, Hs, Ws).
        eps (float): see :func:`cosine_correlation`.
        sparse (bool): skip the masked-out support positions on large
            levels (the execution policy's choice per device). Defaults to
            True.

    Returns:
        Tensor: (N, L, Hq, Wq, Hs, Ws), layers in shallow-to-deep order.
    """
    if (len(query_feats) != len(support_feats) or not query_feats
            or len({tuple(f.shape)
                    for f in query_feats}) != 1
            or len({tuple(f.shape)
                    for f in support_feats}) != 1):
        return stack_level_correlations(query_feats, support_feats, eps)
    if query_feats[0].shape[:2] != support_feats[0].shape[:2]:
        raise ValueError('query and support features must share (N, C), got '
                         f'{tuple(query_feats[0].shape)} and '
                         f'{tuple(support_feats[0].shape)}')
    n, c, hq, wq = query_feats[0].shape
    hs, ws = support_feats[0].shape[-2:]
    query, _ = _normalise_stacked(query_feats, eps)
    support, support_norm = _normalise_stacked(support_feats, eps)
    corr = _correlate_nonzero_columns(query, support, support_norm, sparse)
    return corr.view(n, len(query_feats), hq, wq, hs, ws)


def _normalise_stacked(feats: Sequence[torch.Tensor],
                       eps: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Stack L same-shaped maps positions-first, each position's C-vector
    divided by its L2 norm + eps, computed in fp32 under autocast. Without
    autograd, under autocast the result is stored in the autocast dtype
    (bf16/fp16): the values autocast's cast of the fp32 result would give
    the GEMM, without that extra copy.

    Positions-first (H W, C) rows are the operands the correlation GEMM
    reads fastest, and what channels-last maps already hold in memory.
    Without autograd the maps are normalised straight into the stacked
    buffer, the norms taken along each map's memory layout with
    ``torch.linalg.vector_norm`` (measured ~3x faster than ``Tensor.norm``
    over a strided channel dim, and no squared copy); with autograd, as
    :func:`cosine_correlation`.

    Args:
        feats (Sequence[Tensor]): L maps (N, C, H, W), contiguous or
            channels-last.
        eps (float): added to the norms.

    Returns:
        tuple[Tensor, Tensor]: the normalised (N, L, H W, C) and the norms
        (N, L, H W) (fp32 under autocast).
    """
    n, c, h, w = feats[0].shape
    if exporting() or (torch.is_grad_enabled() and any(f.requires_grad
                                                       for f in feats)):
        # (exported: a graph has no ``out=`` writes into a buffer)
        x = _to_fp32_if_half(torch.stack(feats, 1).reshape(n, -1, c, h * w))
        norm = x.norm(dim=2, p=2, keepdim=True)
        return (x / (norm + eps)).transpose(2, 3), norm.squeeze(2)
    half = (torch.float16, torch.bfloat16)
    dtype = torch.float32 if feats[0].dtype in half else feats[0].dtype
    # autocast casts fp32 GEMM operands only
    gemm_dtype = (autocast_dtype(feats[0].device.type)
                  if dtype == torch.float32 else None) or dtype
    out = feats[0].new_empty(n, len(feats), h * w, c, dtype=gemm_dtype)
    norms = feats[0].new_empty(n, len(feats), h * w, 1, dtype=dtype)
    for i, f in enumerate(feats):
        # (N, H W, C): a view of a channels-last map, a transpose of a
        # contiguous one; the sum of squares runs along memory either way
        f = _to_fp32_if_half(f.reshape(n, c, h * w).transpose(1, 2))
        if f.stride(2) == 1:
            norm = torch.linalg.vector_norm(f, dim=2, keepdim=True)
        else:
            norm = torch.linalg.vector_norm(
                f.transpose(1, 2), dim=1).unsqueeze(2)
        norms[:, i] = norm
        torch.div(f, norm + eps, out=out[:, i])
    return out, norms.squeeze(3)


#: use the gathered GEMM when at most this share of support positions is
#: non-zero (above it, the gather and scatter cost more than they save) ...
SPARSE_SUPPORT_MAX_DENSITY = 0.75
#: ... and the correlation has at least this many entries per layer (on
#: small levels the per-pair loop costs more than it saves)
SPARSE_SUPPORT_MIN_SIZE = 100_000
#: the gathered columns are padded with zero columns to a multiple of this:
#: the GEMM runs ~1.4x faster on 632 columns than on 625 (oneDNN/MKL
#: blocking; measured on AVX-512), and the padding's products are exact 0s
GEMM_COLUMN_MULTIPLE = 16


def _correlate_nonzero_columns(query: torch.Tensor,
                               support: torch.Tensor,
                               support_norm: torch.Tensor,
                               sparse: bool = True) -> torch.Tensor:
    """Correlate normalised features, skipping all-zero support positions.

    A support position whose C-vector is zero in every layer (masked out:
    the resized mask is exactly 0 there) has an all-zero correlation column
    (0 / (0 + eps) = 0), so per pair only the non-zero columns are
    multiplied and the rest is left at 0: the same result, with ~the
    foreground share of the GEMM work for a masked support. The ReLU
    (clamp at 0) is applied here, to the product before it is scattered.
    The gathered columns are padded with zero ones to a multiple of
    :data:`GEMM_COLUMN_MULTIPLE` (their products are 0, scattered where 0s
    are anyway).

    Args:
        query (Tensor): normalised query features, (N, L, Hq Wq, C).
        support (Tensor): normalised support features, (N, L, Hs Ws, C).
        support_norm (Tensor): their norms before normalising,
            (N, L, Hs Ws).
        sparse (bool): False: always the dense product. Defaults to True.

    Returns:
        Tensor: (N, L, Hq Wq, Hs Ws), clamped at 0.
    """
    n, num_layers, q_len, c = query.shape
    s_len = support.shape[2]

    def dense() -> torch.Tensor:
        return torch.bmm(
            query.flatten(0, 1),
            support.flatten(0, 1).transpose(1,
                                            2)).view(n, num_layers, q_len,
                                                     s_len).clamp_(min=0)

    if (not sparse or q_len * s_len < SPARSE_SUPPORT_MIN_SIZE
            or query.device.type == 'meta'):
        return dense()  # (meta tensors, for shape checks, have no data)
    nonzero = support_norm.ne(0).any(dim=1)  # (N, Hs Ws)
    counts = nonzero.sum(dim=1).tolist()
    if max(counts) > SPARSE_SUPPORT_MAX_DENSITY * s_len:
        return dense()
    if not any(counts):
        return dense()  # every mask empty: nothing to skip to
    corr = None
    for i, count in enumerate(counts):
        if count == 0:
            continue  # an empty mask: all zero, as the dense product
        cols = nonzero[i].nonzero().squeeze(1)
        pad = -count % GEMM_COLUMN_MULTIPLE
        if pad <= s_len - count:  # some zero columns: their product is 0
            cols = torch.cat([cols, (~nonzero[i]).nonzero()[:pad, 0]])
        part = torch.matmul(query[i], support[i].index_select(
            1, cols).transpose(1, 2)).clamp_(min=0)
        if corr is None:  # the product's dtype: bf16/fp16 under autocast
            corr = part.new_zeros(n, num_layers, q_len, s_len)
        corr[i].index_copy_(2, cols, part)
    return corr
