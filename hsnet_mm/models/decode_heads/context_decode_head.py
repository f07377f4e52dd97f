# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""HSNet's 2D decoder as an mmseg decode head.

Written from the description of the decoder of the official ``HPNLearner``
(juhongm999/hsnet, ``model/learner.py``).

Shape shorthand: ``N`` query/support pairs, ``C`` encoder channels,
``h, w`` the encoder's query size (2x that is the logit size).

Known difference from the official decoder (an official bug, fixed): the
official x2 upsample uses the feature **width** for both output dims, so
it assumes square inputs; here it doubles height and width separately.
Square inputs give identical results.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import OptMultiConfig, SampleList


@MODELS.register_module()
class ContextDecodeHead(BaseDecodeHead):
    """Decode the squeezed hypercorrelation to 2-class logits.

    ``decoder1`` (two 3x3 convs + ReLU) -> bilinear x2 upsample
    (``align_corners=True``) -> ``decoder2`` (3x3 conv + ReLU) ->
    ``conv_seg`` (the last 3x3 conv, 64 -> 2). Channel 0 is background,
    channel 1 foreground. ``BaseDecodeHead``'s 1x1 ``conv_seg`` is replaced
    by that last 3x3 conv, and dropout is off, so the parameters and their
    layout equal the official decoder's.

    Args:
        in_channels (int): encoder channels. Defaults to 128.
        channels (int): channels before ``conv_seg``. Defaults to 64.
        hidden_channels (Sequence[int]): output channels of ``decoder1``'s
            convs; the last must equal ``channels``. Defaults to (128, 64).
        num_classes (int): must be 2 (background, foreground).
        align_corners (bool): used for the x2 upsample and for resizing
            logits to the label size in the loss. Defaults to True
            (official).
        init_cfg (dict, optional): Defaults to None (PyTorch's default init,
            as the official).
        **kwargs: other ``BaseDecodeHead`` arguments (``loss_decode``,
            ``ignore_index``...). ``dropout_ratio`` is fixed to 0.
    """

    def __init__(self,
                 in_channels: int = 128,
                 channels: int = 64,
                 *,
                 hidden_channels: Sequence[int] = (128, 64),
                 num_classes: int = 2,
                 align_corners: bool = True,
                 init_cfg: OptMultiConfig = None,
                 **kwargs) -> None:
        if num_classes != 2:
            raise ValueError('ContextDecodeHead predicts background and '
                             f'foreground: num_classes must be 2, got '
                             f'{num_classes}')
        if hidden_channels[-1] != channels:
            raise ValueError('the last hidden_channels entry must equal '
                             f'channels ({channels}), got {hidden_channels}')
        kwargs['dropout_ratio'] = 0.
        super().__init__(
            in_channels,
            channels,
            num_classes=num_classes,
            out_channels=num_classes,
            align_corners=align_corners,
            init_cfg=init_cfg,
            **kwargs)
        layers: List[nn.Module] = []
        prev = in_channels
        for ch in hidden_channels:
            layers += [nn.Conv2d(prev, ch, 3, padding=1), nn.ReLU()]
            prev = ch
        self.decoder1 = nn.Sequential(*layers)
        self.decoder2 = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU())
        self.conv_seg = nn.Conv2d(channels, num_classes, 3, padding=1)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Decode.

        Args:
            inputs (Tensor): encoder output, (N, C, h, w). A list/tuple whose
                last item is that tensor is accepted too (mmseg style).

        Returns:
            Tensor: logits (N, 2, 2h, 2w).
        """
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[-1]
        x = self.decoder1(inputs)
        x = F.interpolate(
            x,
            size=(2 * x.shape[-2], 2 * x.shape[-1]),
            mode='bilinear',
            align_corners=self.align_corners)
        return self.cls_seg(self.decoder2(x))

    def loss_by_feat(self, seg_logits: torch.Tensor,
                     batch_data_samples: SampleList) -> dict:
        """Loss of logits against the query masks of ``batch_data_samples``.

        The logits are resized to the label size with bilinear interpolation
        (``align_corners`` as configured, True officially) first, then
        ``BaseDecodeHead.loss_by_feat`` applies ``loss_decode``.
        """
        label_size = batch_data_samples[0].gt_sem_seg.shape
        seg_logits = F.interpolate(
            seg_logits,
            size=tuple(label_size),
            mode='bilinear',
            align_corners=self.align_corners)
        return super().loss_by_feat(seg_logits, batch_data_samples)
