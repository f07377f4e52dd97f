# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Pack an episode into the layout of :mod:`hsnet_mm.structures.episode`."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

from ...structures import EPISODE_META_KEYS
from ...utils.cli import UserError


def _stack(arrays: Sequence[np.ndarray], key: str) -> np.ndarray:
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) != 1:
        raise UserError(f'the {key} of an episode differ in shape {shapes};'
                        f' add ResizeEpisode to the pipeline')
    return np.stack(arrays)


def _ground_truth(mask: np.ndarray, input_hw: tuple) -> torch.Tensor:
    """The query mask as ``gt_sem_seg`` data (1, Hg, Wg): int64 at the
    input size (mmseg's label dtype, what a loss reads); uint8 when it is
    kept at another size, the original-size protocol's (only the metric
    and the pictures read it; 144 MB instead of 1.15 GB at 12000 x 12000).
    """
    mask = np.asarray(mask)
    if mask.shape[:2] != tuple(input_hw) and mask.dtype == np.uint8:
        return torch.from_numpy(np.ascontiguousarray(mask)[None])
    return torch.from_numpy(mask.astype(np.int64)[None])


@TRANSFORMS.register_module()
class PackEpisodeInputs(BaseTransform):
    """Pack query, supports and query mask into tensors and a data sample.

    Output (see :mod:`hsnet_mm.structures.episode`)::

        dict(inputs=dict(query_img=uint8 (3, H, W),
                         support_imgs=uint8 (K, 3, H, W),
                         support_masks=uint8 (K, H, W)),
             data_samples=SegDataSample(gt_sem_seg=PixelData(
                 data=int64 (1, Hg, Wg)), metainfo={meta_keys}))

    ``gt_sem_seg`` is uint8 instead when the query mask was kept at a size
    other than the input's (``ResizeEpisode(keep_query_gt_original=True)``,
    the original-size protocol): only the metric reads it there, and at
    12000 x 12000 int64 would take 1.15 GB.

    ``gt_sem_seg`` is left out when ``query_mask`` is absent. ``shot`` and
    ``img_shape`` are derived when missing; other missing meta keys are
    skipped.

    Args:
        meta_keys (Sequence[str]): Keys copied into the metainfo. Defaults
            to :data:`EPISODE_META_KEYS`.
    """

    def __init__(self, meta_keys: Sequence[str] = EPISODE_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Build ``inputs`` and ``data_samples``."""
        query = np.asarray(results['query_img'])
        if query.ndim != 3 or query.shape[2] != 3:
            raise UserError(f'query_img must be (H, W, 3), got '
                            f'{query.shape}')
        supports = _stack(results['support_imgs'], 'support images')
        masks = _stack(results['support_masks'], 'support masks')
        if (supports.shape[1:3] != query.shape[:2]
                or masks.shape[1:] != query.shape[:2]):
            raise UserError(
                f'query {query.shape[:2]}, supports {supports.shape[1:3]} and '
                f'support masks {masks.shape[1:]} must share (H, W); add '
                f'ResizeEpisode to the pipeline')
        inputs = dict(
            query_img=torch.from_numpy(
                np.ascontiguousarray(query.transpose(2, 0,
                                                     1))).to(torch.uint8),
            support_imgs=torch.from_numpy(
                np.ascontiguousarray(supports.transpose(0, 3, 1,
                                                        2))).to(torch.uint8),
            support_masks=torch.from_numpy(np.ascontiguousarray(masks)).to(
                torch.uint8))
        sample = SegDataSample()
        if results.get('query_mask') is not None:
            sample.gt_sem_seg = PixelData(
                data=_ground_truth(results['query_mask'], query.shape[:2]))
        results.setdefault('shot', len(results['support_imgs']))
        results.setdefault('img_shape', query.shape[:2])
        meta = {}
        for key in self.meta_keys:
            if key in results:
                value = results[key]
                meta[key] = tuple(value) if key.endswith('shape') else value
        sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(meta_keys={self.meta_keys})'
