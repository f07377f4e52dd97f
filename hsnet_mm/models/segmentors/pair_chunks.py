# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Neck + encoder over (query, support) pairs, a chunk of pairs at a time.

Every pair goes through the hypercorrelation neck and the 4D encoder on its
own (the encoder's GroupNorm statistics are per pair), so running them a
chunk at a time gives the same result; on a CPU it is faster (the level-2
correlation of one pair is 100 MB at 400 px with ResNet-50: a chunk near
the cache size saves the memory traffic of a batch of them, measured 1.9x
on the 5-shot neck + encoder).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` pairs, ``L``
layers of a level, ``C_l`` channels of layer l, ``Hq, Wq`` / ``Hs, Ws``
query / support feature size, ``H, W`` input size, ``C`` the encoder's
output channels.
"""
import torch
import torch.nn as nn
import torch.utils.checkpoint as cp

from ...structures import FeatureGroups, SupportFeatures


def pair_features(query_feats: FeatureGroups, support: SupportFeatures):
    """The N = B K (query, support) pairs of B queries and their supports.

    The query's features are repeated for its K pairs, and one support set
    (``support.batch_size`` 1) for every query (copies, as a batch of
    pairs is).

    Args:
        query_feats (FeatureGroups): per level, L maps (B, C_l, Hq, Wq).
        support (SupportFeatures): K shots of 1 or B episodes.

    Returns:
        tuple: query features (N, C_l, Hq, Wq) per map, support features
        (N, C_l, Hs, Ws) per map, support masks (N, H, W); shot-minor.
    """
    b, k = query_feats[0][0].shape[0], support.num_shots

    def query_pairs(x: torch.Tensor) -> torch.Tensor:  # (B, ...) -> (N, ...)
        return x.unsqueeze(1).expand(b, k, *x.shape[1:]).flatten(0, 1)

    def support_pairs(x: torch.Tensor) -> torch.Tensor:  # (Bs K, ...)
        if support.batch_size == b:
            return x
        return x.unsqueeze(0).expand(b, *x.shape).flatten(0, 1)

    query = [[query_pairs(f) if k > 1 else f for f in level]
             for level in query_feats]
    feats = [[support_pairs(f) for f in level] for level in support.feats]
    return query, feats, support_pairs(support.masks)


def largest_level_bytes(query_feats: FeatureGroups) -> int:
    """Bytes of one pair's largest correlation level: L (Hq Wq)^2 values
    (the support size equals the query's)."""
    return max(
        len(level) * (level[0].shape[-2] * level[0].shape[-1])**2 *
        level[0].element_size() for level in query_feats)


def encode_pairs_in_chunks(neck: nn.Module,
                           encoder: nn.Module,
                           query_feats: FeatureGroups,
                           support_feats: FeatureGroups,
                           support_masks: torch.Tensor,
                           chunk: int,
                           checkpoint: bool = False) -> torch.Tensor:
    """``encoder(neck(query_feats, support_feats, support_masks))`` per
    chunk of ``chunk`` pairs.

    Args:
        neck (nn.Module): e.g. ``HypercorrelationNeck``.
        encoder (nn.Module): e.g. ``CenterPivot4DEncoder``.
        query_feats (FeatureGroups): per level, L maps (N, C_l, Hq, Wq).
        support_feats (FeatureGroups): per level, L maps (N, C_l, Hs, Ws).
        support_masks (Tensor): (N, H, W) float 0/1.
        chunk (int): pairs per call, >= 1.
        checkpoint (bool): activation checkpointing per chunk (the
            correlations are recomputed in the backward pass, never all
            held at once). Defaults to False.

    Returns:
        Tensor: (N, C, Hq, Wq).
    """

    def correlate_encode(q, s, m):
        return encoder(neck(q, s, m))

    # (int: traced for export, a size is a tensor)
    counts = {
        int(f.shape[0])
        for level in (*query_feats, *support_feats)
        for f in level
    } | {int(support_masks.shape[0])}
    if len(counts) != 1:
        raise ValueError('query features, support features and support '
                         f'masks must hold the same pairs, got {counts}')

    n = int(support_masks.shape[0])
    if chunk >= n and not checkpoint:  # (no slices: an exported graph
        # keeps N dynamic)
        return correlate_encode(query_feats, support_feats, support_masks)
    outs = []
    for start in range(0, n, chunk):
        part = slice(start, start + chunk)
        args = ([[f[part] for f in level] for level in query_feats],
                [[f[part] for f in level]
                 for level in support_feats], support_masks[part])
        if checkpoint:
            outs.append(
                cp.checkpoint(correlate_encode, *args, use_reentrant=False))
        else:
            outs.append(correlate_encode(*args))
    return outs[0] if len(outs) == 1 else torch.cat(outs)
