# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""HSNet: Hypercorrelation Squeeze Networks for few-shot segmentation.

Min, Kang and Cho, ICCV 2021 (https://arxiv.org/abs/2104.01538). Written
from the description of the official ``HypercorrSqueezeNetwork``
(juhongm999/hsnet, ``model/hsnet.py``).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``B`` episodes, ``K``
shots, ``N = B * K`` (query, support) pairs, ``H, W`` input size, ``H0, W0``
original query size, ``Hq, Wq`` the encoder's (finest level's) query size.
"""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)

from ...structures import EpisodeInputs, FeatureGroups, check_episode_tensors
from ..layers import foreground_argmax, vote_kshot
from ..layers.autocast import autocast_enabled
from ..layers.correlation_memory import check_correlation_memory

#: on a CPU, the default chunk of pairs keeps the largest correlation level
#: of a chunk within this many bytes (1 pair at 400 px with ResNet-50, 2 at
#: 200 px; measured: 5 pairs at 400 px 1.9x and 8 pairs at 200 px 1.15x
#: faster than all at once)
CPU_CHUNK_BYTES = 16 * 2**20


@MODELS.register_module()
class HSNet(BaseSegmentor):
    """Few-shot segmentor: query + K annotated supports -> query mask.

    Data flow (the query's backbone features are computed once per episode,
    and the K shots run through neck, encoder and head as one batch of
    N = B * K pairs)::

        loss():    encode_shots() -> decode_head.loss()  (each shot's
                   logits against the query mask, loss averaged over shots)
        predict(): encode_shots() -> decode_head() -> resize -> K-shot vote
        encode_decode() / forward(mode='tensor'): encode_shots() ->
                   decode_head() -> resize to the input size
        encode_shots(): backbone(query), backbone(supports)
                   -> encode_pairs(): per chunk of pairs,
                      neck (mask supports, cosine hypercorrelation pyramid)
                      -> encoder (center-pivot 4D squeeze + mix, support
                      mean)

    The tensor-level API is :meth:`encode_decode`, which takes the episode
    tensors as a dict (:data:`~hsnet_mm.structures.EpisodeInputs`) and
    returns the per-shot logits; ``vote_kshot(logits)`` turns them into
    the official K-shot prediction::

        logits = model.encode_decode(dict(query_img=q, support_imgs=s,
                                          support_masks=m))  # (B,K,2,H,W)
        mask = vote_kshot(logits)                             # (B, H, W)

    **Output size.** :meth:`predict` resizes the decoder logits straight to
    the size of each sample's ground truth when it has one, else to its
    ``ori_shape``. The evaluation protocol is therefore one switch of the
    data pipeline, ``ResizeEpisode(keep_query_gt_original=...)``: the
    official default resizes the query mask to the input size (so the
    prediction is made at the input size), the official
    ``use_original_imgsize`` keeps it at the original size.

    **Pair chunks.** Every (query, support) pair goes through the neck and
    the encoder on its own (the encoder's GroupNorm statistics are per
    pair), so running them ``pair_chunk`` pairs at a time gives the same
    result. On a CPU it is faster: the level-2 correlation of one pair is
    already 100 MB at 400 px (ResNet-50), and a chunk that stays near the
    cache size saves the memory traffic of a batch of them (measured 1.9x
    on the 5-shot neck + encoder). With ``with_cp`` a training step keeps only
    the backbone features and recomputes each chunk's correlation and
    encoder in the backward pass: the correlations, the largest tensors of
    the step, are never all held at once.

    Args:
        backbone (dict): a backbone returning features grouped by pyramid
            level, e.g. ``HSNetResNet``.
        neck (dict): e.g. ``HypercorrelationNeck``.
        encoder (dict): e.g. ``CenterPivot4DEncoder``.
        decode_head (dict): e.g. ``ContextDecodeHead``.
        pair_chunk (int, optional): pairs per neck + encoder call. Defaults
            to None: on a CPU as many as keep the largest correlation
            level of a chunk within :data:`CPU_CHUNK_BYTES` (at least 1),
            elsewhere all pairs at once.
        with_cp (bool): activation checkpointing of the neck and encoder,
            per chunk, in training (less memory for one more forward of
            both). Defaults to False.
        train_cfg (dict, optional): unused. Defaults to None.
        test_cfg (dict, optional): unused. Defaults to None.
        data_preprocessor (dict, optional): e.g.
            ``EpisodeDataPreProcessor``.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 encoder: ConfigType,
                 decode_head: ConfigType,
                 pair_chunk: Optional[int] = None,
                 with_cp: bool = False,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if test_cfg and 'output_size' in test_cfg:
            raise ValueError(
                'HSNet.test_cfg.output_size is gone: predictions follow the '
                'ground truth\'s size, so the protocol is chosen in the data '
                'pipeline with ResizeEpisode(keep_query_gt_original=True) '
                '(tools/test.py --original-size sets it)')
        if pair_chunk is not None and pair_chunk < 1:
            raise ValueError(f'pair_chunk must be >= 1, got {pair_chunk}')
        self.pair_chunk = pair_chunk
        self.with_cp = with_cp
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.encoder = MODELS.build(encoder)
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg or {}

    def extract_feat(self, imgs: torch.Tensor) -> FeatureGroups:
        """Backbone features of images (N, 3, H, W), grouped by level."""
        return self.backbone(imgs)

    def encode_shots(self, query_img: torch.Tensor, support_imgs: torch.Tensor,
                     support_masks: torch.Tensor) -> torch.Tensor:
        """Encode every (query, shot) pair of a batch of episodes.

        Args:
            query_img (Tensor): (B, 3, H, W), normalised.
            support_imgs (Tensor): (B, K, 3, H, W), normalised.
            support_masks (Tensor): (B, K, H, W), float/bool/int 0/1.

        Returns:
            Tensor: encoder output (N, C, Hq, Wq), shot-minor.

        Raises:
            TypeError: the images' dtype is not the weights' (outside
                autocast), or not floating point.
            ValueError: see :func:`~hsnet_mm.structures.check_episode_tensors`.
            MemoryError: the hypercorrelation of this input size cannot fit
                (checked after the query's backbone pass, before the
                supports' and the correlation).
        """
        masks = check_episode_tensors(query_img, support_imgs, support_masks)
        weight = next(self.parameters(), None)
        if (weight is not None and query_img.dtype != weight.dtype
                and not autocast_enabled(query_img.device.type)):
            raise TypeError(
                f'the images are {query_img.dtype} but the model\'s weights '
                f'are {weight.dtype}: cast them with .to({weight.dtype})')
        b, k = support_imgs.shape[:2]
        query_feats = self.extract_feat(query_img)
        # the pairs whose correlations are held at once: a chunk, unless
        # autograd keeps them all for a backward pass
        at_once = b * k
        if not self._keeps_every_chunk():
            at_once = min(
                at_once,
                self._chunk_size(query_feats, at_once, query_img.device))
        check_correlation_memory([(len(level), *level[0].shape[-2:])
                                  for level in query_feats], at_once,
                                 tuple(query_img.shape[-2:]),
                                 query_feats[0][0].element_size(),
                                 query_img.device)
        support_feats = self.extract_feat(support_imgs.flatten(0, 1))
        if k > 1:  # reuse the query features for every shot
            query_feats = [[
                f.unsqueeze(1).expand(b, k, *f.shape[1:]).flatten(0, 1)
                for f in level
            ] for level in query_feats]
        return self.encode_pairs(query_feats, support_feats,
                                 masks.flatten(0, 1))

    def encode_pairs(self, query_feats: FeatureGroups,
                     support_feats: FeatureGroups,
                     support_masks: torch.Tensor) -> torch.Tensor:
        """Neck and encoder over N (query, support) pairs, in chunks.

        Args:
            query_feats (FeatureGroups): per level, L maps (N, C_l, Hq, Wq)
                (for K shots, the query's features expanded to its pairs).
            support_feats (FeatureGroups): per level, L maps
                (N, C_l, Hs, Ws).
            support_masks (Tensor): (N, H, W) float 0/1.

        Returns:
            Tensor: encoder output (N, C, Hq, Wq).
        """
        n = support_masks.shape[0]
        chunk = self._chunk_size(query_feats, n, support_masks.device)
        checkpoint = self._checkpointing()
        outs = []
        for start in range(0, n, chunk):
            part = slice(start, start + chunk)
            args = ([[f[part] for f in level] for level in query_feats],
                    [[f[part] for f in level]
                     for level in support_feats], support_masks[part])
            if checkpoint:
                outs.append(
                    cp.checkpoint(
                        self._correlate_encode, *args, use_reentrant=False))
            else:
                outs.append(self._correlate_encode(*args))
        return outs[0] if len(outs) == 1 else torch.cat(outs)

    def _correlate_encode(self, query_feats: FeatureGroups,
                          support_feats: FeatureGroups,
                          support_masks: torch.Tensor) -> torch.Tensor:
        return self.encoder(
            self.neck(query_feats, support_feats, support_masks))

    def _checkpointing(self) -> bool:
        return self.with_cp and self.training and torch.is_grad_enabled()

    def _keeps_every_chunk(self) -> bool:
        """Whether autograd holds every chunk's correlation (saved for the
        backward pass) until the step ends."""
        return (torch.is_grad_enabled() and not self._checkpointing()
                and any(p.requires_grad for p in self.parameters()))

    def _chunk_size(self, query_feats: FeatureGroups, n: int,
                    device: torch.device) -> int:
        """Pairs per chunk: ``pair_chunk``, else see its docstring."""
        if self.pair_chunk is not None:
            return self.pair_chunk
        if device.type != 'cpu':
            return n
        per_pair = max(
            len(level) * (level[0].shape[-2] * level[0].shape[-1])**2 *
            level[0].element_size() for level in query_feats)
        return max(1, min(n, CPU_CHUNK_BYTES // per_pair))

    def _shot_logits(self, inputs: EpisodeInputs) -> torch.Tensor:
        """Per-shot logits at decoder resolution, (B, K, 2, 2 Hq, 2 Wq)."""
        b, k = inputs['support_imgs'].shape[:2]
        # a list, as mmseg's heads take their inputs ([in_index])
        logits = self.decode_head([self.encode_shots(**inputs)])
        return logits.view(b, k, *logits.shape[1:])

    def _resize_logits(self, logits: torch.Tensor,
                       size: Tuple[int, int]) -> torch.Tensor:
        """Resize (B, K, 2, h, w) logits to ``size`` = (h', w') (bilinear)."""
        b, k = logits.shape[:2]
        out = F.interpolate(
            logits.flatten(0, 1),
            size=tuple(size),
            mode='bilinear',
            align_corners=self.align_corners)
        return out.view(b, k, *out.shape[1:])

    def encode_decode(
            self,
            inputs: EpisodeInputs,
            batch_img_metas: Optional[List[dict]] = None) -> torch.Tensor:
        """Per-shot logits at the input size: the tensor-level API.

        Args:
            inputs (dict): ``query_img`` (B, 3, H, W) and ``support_imgs``
                (B, K, 3, H, W), normalised; ``support_masks`` (B, K, H, W),
                float/bool/int 0/1.
            batch_img_metas (list[dict], optional): unused (mmseg's
                signature).

        Returns:
            Tensor: (B, K, 2, H, W); channel 1 is the foreground. Shot ``k``
            equals a 1-shot run with support ``k`` alone.
        """
        return self._resize_logits(
            self._shot_logits(inputs), inputs['query_img'].shape[-2:])

    def loss(self, inputs: EpisodeInputs, data_samples: SampleList) -> dict:
        """Cross-entropy of every shot's logits against the query mask.

        With K > 1 shots (K-shot training) the loss is the mean over the K
        per-shot losses.
        """
        k = inputs['support_imgs'].shape[1]
        feats = self.encode_shots(**inputs)
        shot_samples = [ds for ds in data_samples for _ in range(k)]
        losses = self.decode_head.loss([feats], shot_samples, self.train_cfg)
        return {f'decode.{name}': value for name, value in losses.items()}

    def predict(self,
                inputs: EpisodeInputs,
                data_samples: OptSampleList = None) -> SampleList:
        """Predict query masks and store them in the data samples.

        The decoder logits are resized straight to each sample's output
        size ``(H', W')``: the size of its ``gt_sem_seg`` when it has one,
        else its ``ori_shape`` (the input size without data samples). Each
        sample gets:

        - ``pred_sem_seg`` (1, H', W') int64: the official K-shot vote
          (:func:`~hsnet_mm.models.layers.vote_kshot`);
        - ``shot_pred_sem_seg`` (K, H', W') int64: each shot's own
          prediction (its vote);
        - ``seg_logits`` (2, H', W'): the mean of the K shots' logits. For
          K = 1 it is the shot's logits and ``pred_sem_seg`` is its argmax,
          as in mmseg. For K > 1 the official prediction is a vote of the
          shots' argmaxes, not the argmax of averaged logits, so
          ``seg_logits`` is a soft summary for inspection and may disagree
          with ``pred_sem_seg`` on some pixels.
        """
        logits = self._shot_logits(inputs)
        input_size = tuple(inputs['query_img'].shape[-2:])
        if data_samples is None:
            data_samples = [
                SegDataSample(
                    metainfo=dict(img_shape=input_size, ori_shape=input_size))
                for _ in range(logits.shape[0])
            ]
        for shot_logits, ds in zip(logits, data_samples):
            if 'gt_sem_seg' in ds:
                size = tuple(ds.gt_sem_seg.shape[-2:])
            else:
                size = tuple(ds.metainfo['ori_shape'][:2])
            shot_logits = self._resize_logits(shot_logits[None], size)
            ds.set_data(
                dict(
                    seg_logits=PixelData(data=shot_logits[0].mean(0)),
                    shot_pred_sem_seg=PixelData(
                        data=foreground_argmax(shot_logits[0], dim=1)),
                    pred_sem_seg=PixelData(data=vote_kshot(shot_logits))))
        return data_samples

    def _forward(self,
                 inputs: EpisodeInputs,
                 data_samples: OptSampleList = None) -> torch.Tensor:
        """Tensor mode: :meth:`encode_decode`, (B, K, 2, H, W)."""
        return self.encode_decode(inputs)
