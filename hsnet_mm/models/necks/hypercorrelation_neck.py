# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Hypercorrelation: masked support features correlated with the query.

Written from the description of the official HSNet (juhongm999/hsnet,
``model/hsnet.py`` and ``model/base/correlation.py``).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` (query,
support) pairs, ``C_l`` channels of feature layer l, ``L_i`` layers of
pyramid level i, ``Hq, Wq`` / ``Hs, Ws`` query / support feature size,
``H, W`` input size.
"""
from typing import List

import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import OptMultiConfig

from ...structures import FeatureGroups
from ..execution_policy import check_impl, sparse_correlation
from ..layers import (batched_level_correlations, mask_support_feature,
                      stack_level_correlations)


@MODELS.register_module()
class HypercorrelationNeck(BaseModule):
    """Build HSNet's 3-level hypercorrelation pyramid (no parameters).

    For every feature layer: resize the support mask to the layer
    (bilinear, ``align_corners=True``) and multiply it into the support
    feature, then take the cosine correlation of all query and support
    positions (L2 norm + 1e-5) and clamp it at 0. The correlations of one
    backbone level (e.g. one ResNet stage) are stacked along a channel dim
    in shallow-to-deep order; the levels keep the backbone's order, deepest
    first (:data:`~hsnet_mm.structures.FeatureGroups`).

    mmseg's ``EncoderDecoder`` calls necks with image features only; this
    neck also needs the support features and masks, so the few-shot
    segmentor calls it as ``neck(query_feats, support_feats, masks)``.

    Args:
        mask_support (bool): multiply the support mask into the support
            features. Defaults to True; the official "without masking"
            checkpoints (Table 1's dagger models) need False.
        eps (float): added to the L2 norms. Defaults to 1e-5.
        impl (str): ``'fast'`` correlates the layers of a level as one
            batched GEMM (:func:`batched_level_correlations`; on large
            levels of a CPU only the support positions the mask keeps are
            multiplied, the masked-out ones are exact zeros) and resizes
            the mask once per level; ``'reference'`` correlates layer by
            layer. Equal up to float rounding. The execution policy
            (:mod:`hsnet_mm.models.execution_policy`): inside ``HSNet``, its
            ``impl`` sets it. Defaults to ``'fast'``.
        init_cfg (dict, optional): unused (no parameters). Defaults to None.
    """

    def __init__(self,
                 mask_support: bool = True,
                 eps: float = 1e-5,
                 impl: str = 'fast',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.impl = check_impl(impl)
        self.mask_support = mask_support
        self.eps = eps

    def forward(self, query_feats: FeatureGroups, support_feats: FeatureGroups,
                support_masks: torch.Tensor) -> List[torch.Tensor]:
        """Correlate query and support features.

        Args:
            query_feats (Sequence[Sequence[Tensor]]): backbone output for the
                queries: per level (deepest first) a list of L maps
                (N, C_l, Hq, Wq).
            support_feats (Sequence[Sequence[Tensor]]): the same for the
                supports, maps (N, C_l, Hs, Ws).
            support_masks (Tensor): float 0/1 masks at image size, (N, H, W).

        Returns:
            list[Tensor]: the pyramid, deepest level first; level i is
            (N, L_i, Hq_i, Wq_i, Hs_i, Ws_i).
        """
        if len(query_feats) != len(support_feats):
            raise ValueError(f'query has {len(query_feats)} feature levels, '
                             f'support has {len(support_feats)}')
        if support_masks.dim() != 3:
            raise ValueError('support_masks must be (N, H, W), got '
                             f'{tuple(support_masks.shape)}')
        fast = self.impl == 'fast'
        sparse = sparse_correlation(self.impl, support_masks.device)
        pyramid = []
        for q_level, s_level in zip(query_feats, support_feats):
            if self.mask_support:
                s_level = self._mask_level(s_level, support_masks, fast)
            if fast:
                pyramid.append(
                    batched_level_correlations(q_level, s_level, self.eps,
                                               sparse))
            else:
                pyramid.append(
                    stack_level_correlations(q_level, s_level, self.eps))
        return pyramid

    @staticmethod
    def _mask_level(feats: List[torch.Tensor], masks: torch.Tensor,
                    once: bool) -> List[torch.Tensor]:
        """Mask a level's support features, resizing the mask ``once``
        per feature size (fast) or once per layer (reference)."""
        if not once:
            return [mask_support_feature(f, masks) for f in feats]
        resized = {}
        out = []
        for f in feats:
            key = (tuple(f.shape[-2:]), f.dtype)
            if key not in resized:
                ones = f.new_ones(f.shape[0], 1, *f.shape[-2:])
                resized[key] = mask_support_feature(ones, masks)
            out.append(f * resized[key])
        return out
