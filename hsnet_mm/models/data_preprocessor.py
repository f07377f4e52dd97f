# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Batch and normalise episodes (query and supports together)."""
from typing import Any, Dict, Sequence

import torch
from mmengine.model import BaseDataPreprocessor
from mmseg.registry import MODELS

from ..structures import (IGNORE_INDEX, check_episode_shapes,
                          check_episode_tensors, stack_episode_inputs)


@MODELS.register_module()
class EpisodeDataPreProcessor(BaseDataPreprocessor):
    """Stack a collated batch of episodes and normalise its images.

    Input and output layouts are documented in
    :mod:`hsnet_mm.structures.episode`. Images are normalised as
    ``(x - mean) / std`` (RGB, 0-255 units); support masks become float 0/1
    with ignore pixels (255) counted as background, as the official code
    masks support features. The batch is checked here, once for the
    Runner and the API (:func:`~hsnet_mm.structures.check_episode_tensors`:
    shapes, sizes, finite images, mask values). ``mean`` and ``std`` are
    non-persistent buffers, so checkpoints hold none of them.

    Args:
        mean (Sequence[float]): per-channel mean. Defaults to ImageNet's
            (123.675, 116.28, 103.53).
        std (Sequence[float]): per-channel std. Defaults to ImageNet's
            (58.395, 57.12, 57.375).
        non_blocking (bool): non-blocking host-to-device copies. Defaults
            to False.
    """

    def __init__(self,
                 mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375),
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if len(mean) != 3 or len(std) != 3:
            raise ValueError('mean and std need 3 values (RGB)')
        self.register_buffer(
            'mean',
            torch.tensor(mean, dtype=torch.float32).view(3, 1, 1), False)
        self.register_buffer(
            'std',
            torch.tensor(std, dtype=torch.float32).view(3, 1, 1), False)

    def normalize(self, imgs: torch.Tensor) -> torch.Tensor:
        """Normalise images (..., 3, H, W) of any integer or float dtype."""
        return (imgs.float() - self.mean) / self.std

    def forward(self,
                data: Dict[str, Any],
                training: bool = False) -> Dict[str, Any]:
        """Move a collated batch to the device, stack and normalise it.

        Args:
            data (dict): ``dict(inputs=dict(query_img=[...],
                support_imgs=[...], support_masks=[...]),
                data_samples=[...])`` as ``pseudo_collate`` makes it.
            training (bool): unused; the same processing in every mode.

        Returns:
            dict: ``dict(inputs=dict(query_img=(B, 3, H, W),
            support_imgs=(B, K, 3, H, W), support_masks=(B, K, H, W)),
            data_samples=...)``.
        """
        data = self.cast_data(data)
        inputs = stack_episode_inputs(data['inputs'])
        check_episode_shapes(**inputs)  # before normalising broadcasts
        masks = inputs['support_masks']
        valid = (masks == 0) | (masks == 1) | (masks == IGNORE_INDEX)
        if not bool(valid.all()):
            raise ValueError('support masks must hold 0, 1 or 255 (ignore); '
                             f'found {torch.unique(masks)[:8].tolist()}')
        inputs = dict(
            query_img=self.normalize(inputs['query_img']),
            support_imgs=self.normalize(inputs['support_imgs']),
            support_masks=(masks == 1).float())
        check_episode_tensors(**inputs, check_mask_values=False)
        return dict(inputs=inputs, data_samples=data.get('data_samples'))
