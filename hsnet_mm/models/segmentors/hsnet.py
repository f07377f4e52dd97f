# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""HSNet: Hypercorrelation Squeeze Networks for few-shot segmentation.

Min, Kang and Cho, ICCV 2021 (https://arxiv.org/abs/2104.01538). Written
from the description of the official ``HypercorrSqueezeNetwork``
(juhongm999/hsnet, ``model/hsnet.py``).

Shape shorthand: ``B`` episodes, ``K`` shots, ``H, W`` input size,
``H0, W0`` original query size, ``h, w`` decoder output size.
"""
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList

from ...structures import check_episode_tensors
from ..layers import vote_kshot

EpisodeInputs = Dict[str, torch.Tensor]


@MODELS.register_module()
class HSNet(BaseSegmentor):
    """Few-shot segmentor: query + K annotated supports -> query mask.

    Data flow (the query's backbone features are computed once per episode,
    and the K shots run through neck, encoder and head as one batch)::

        loss():    _encode_shots() -> decode_head.loss()  (each shot's
                   logits against the query mask, loss averaged over shots)
        predict(): _encode_shots() -> decode_head() -> resize -> K-shot vote
        _encode_shots(): backbone(query), backbone(supports)
                   -> neck (mask supports, cosine hypercorrelation pyramid)
                   -> encoder (center-pivot 4D squeeze + mix, support mean)

    Inputs are the episode layout of :mod:`hsnet_mm.structures.episode`:
    ``inputs=dict(query_img, support_imgs, support_masks)``.

    Args:
        backbone (dict): a backbone returning features grouped by pyramid
            level, e.g. ``HSNetResNet``.
        neck (dict): e.g. ``HypercorrelationNeck``.
        encoder (dict): e.g. ``CenterPivot4DEncoder``.
        decode_head (dict): e.g. ``ContextDecodeHead``.
        train_cfg (dict, optional): unused. Defaults to None.
        test_cfg (dict, optional): ``output_size='input'`` (official
            default: predict at the network input size) or ``'original'``
            (the official ``use_original_imgsize``: decoder logits resized
            straight to the original query size, then voted). Defaults to
            None (``'input'``).
        data_preprocessor (dict, optional): e.g.
            ``EpisodeDataPreProcessor``.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 encoder: ConfigType,
                 decode_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.encoder = MODELS.build(encoder)
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.train_cfg = train_cfg or {}
        self.test_cfg = dict(test_cfg or {})
        self.test_cfg.setdefault('output_size', 'input')
        if self.test_cfg['output_size'] not in ('input', 'original'):
            raise ValueError("test_cfg.output_size must be 'input' or "
                             f"'original', got {self.test_cfg['output_size']}")

    def extract_feat(self, imgs: torch.Tensor) -> Tuple[List[torch.Tensor]]:
        """Backbone features of images (N, 3, H, W), grouped by level."""
        return self.backbone(imgs)

    def _encode_shots(self, query_img: torch.Tensor,
                      support_imgs: torch.Tensor,
                      support_masks: torch.Tensor) -> torch.Tensor:
        """Encode every (query, shot) pair of a batch of episodes.

        Args:
            query_img (Tensor): (B, 3, H, W), normalised.
            support_imgs (Tensor): (B, K, 3, H, W), normalised.
            support_masks (Tensor): (B, K, H, W), 0/1.

        Returns:
            Tensor: encoder output (B * K, C, h / 2, w / 2), shot-minor.
        """
        masks = check_episode_tensors(query_img, support_imgs, support_masks)
        b, k = support_imgs.shape[:2]
        query_feats = self.extract_feat(query_img)
        support_feats = self.extract_feat(support_imgs.flatten(0, 1))
        if k > 1:  # reuse the query features for every shot
            query_feats = [[
                f.unsqueeze(1).expand(b, k, *f.shape[1:]).flatten(0, 1)
                for f in level
            ] for level in query_feats]
        pyramid = self.neck(query_feats, support_feats, masks.flatten(0, 1))
        return self.encoder(pyramid)

    def _decoder_logits(self, inputs: EpisodeInputs) -> torch.Tensor:
        """Per-shot logits at decoder resolution, (B, K, 2, h, w)."""
        b, k = inputs['support_imgs'].shape[:2]
        logits = self.decode_head(self._encode_shots(**inputs))
        return logits.view(b, k, *logits.shape[1:])

    def _resize_logits(self, logits: torch.Tensor,
                       size: Tuple[int, int]) -> torch.Tensor:
        """Resize (B, K, 2, h, w) logits to ``size`` (bilinear)."""
        b, k = logits.shape[:2]
        out = F.interpolate(
            logits.flatten(0, 1),
            size=tuple(size),
            mode='bilinear',
            align_corners=self.align_corners)
        return out.view(b, k, *out.shape[1:])

    def encode_decode_episode(self, query_img: torch.Tensor,
                              support_imgs: torch.Tensor,
                              support_masks: torch.Tensor) -> torch.Tensor:
        """Per-shot logits at the input size.

        Args:
            query_img (Tensor): (B, 3, H, W), normalised.
            support_imgs (Tensor): (B, K, 3, H, W), normalised.
            support_masks (Tensor): (B, K, H, W), float/bool/int 0/1.

        Returns:
            Tensor: (B, K, 2, H, W); channel 1 is the foreground.
        """
        logits = self._decoder_logits(
            dict(
                query_img=query_img,
                support_imgs=support_imgs,
                support_masks=support_masks))
        return self._resize_logits(logits, query_img.shape[-2:])

    def predict_episode(self, query_img: torch.Tensor,
                        support_imgs: torch.Tensor,
                        support_masks: torch.Tensor) -> torch.Tensor:
        """Predict query masks: argmax for K = 1, the official vote for K > 1.

        Args:
            query_img (Tensor): (B, 3, H, W), normalised.
            support_imgs (Tensor): (B, K, 3, H, W), normalised.
            support_masks (Tensor): (B, K, H, W), float/bool/int 0/1.

        Returns:
            Tensor: int64 0/1 masks, (B, H, W).
        """
        return vote_kshot(
            self.encode_decode_episode(query_img, support_imgs, support_masks))

    def encode_decode(self, inputs: EpisodeInputs,
                      batch_img_metas: List[dict]) -> torch.Tensor:
        """Per-shot logits (B, K, 2, H, W) at the input size (mmseg API)."""
        return self.encode_decode_episode(**inputs)

    def loss(self, inputs: EpisodeInputs, data_samples: SampleList) -> dict:
        """Cross-entropy of every shot's logits against the query mask.

        With K > 1 shots (K-shot training) the loss is the mean over the K
        per-shot losses.
        """
        k = inputs['support_imgs'].shape[1]
        feats = self._encode_shots(**inputs)
        shot_samples = [ds for ds in data_samples for _ in range(k)]
        losses = self.decode_head.loss(feats, shot_samples, self.train_cfg)
        return {f'decode.{name}': value for name, value in losses.items()}

    def predict(self,
                inputs: EpisodeInputs,
                data_samples: OptConfigType = None) -> SampleList:
        """Predict query masks and store them in the data samples.

        Each sample gets ``pred_sem_seg`` (1, H', W') int64 from the K-shot
        vote and ``seg_logits`` (2, H', W'), the shots' mean logits (for
        inspection only: the prediction is the vote). ``H', W'`` is the input
        size or, with ``test_cfg.output_size='original'``, ``ori_shape``.
        """
        logits = self._decoder_logits(inputs)
        input_size = tuple(inputs['query_img'].shape[-2:])
        if data_samples is None:
            data_samples = [
                SegDataSample(
                    metainfo=dict(img_shape=input_size, ori_shape=input_size))
                for _ in range(logits.shape[0])
            ]
        if self.test_cfg['output_size'] == 'input':
            logits = self._resize_logits(logits, input_size)
            per_sample = list(logits)
        else:
            per_sample = [
                self._resize_logits(lg[None], ds.metainfo['ori_shape'][:2])[0]
                for lg, ds in zip(logits, data_samples)
            ]
        for shot_logits, ds in zip(per_sample, data_samples):
            pred = vote_kshot(shot_logits[None])
            ds.set_data(
                dict(
                    seg_logits=PixelData(data=shot_logits.mean(0)),
                    pred_sem_seg=PixelData(data=pred)))
        return data_samples

    def _forward(self,
                 inputs: EpisodeInputs,
                 data_samples: OptConfigType = None) -> torch.Tensor:
        """Tensor mode: per-shot logits (B, K, 2, H, W) at the input size."""
        return self.encode_decode_episode(**inputs)
