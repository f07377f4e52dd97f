# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""HSNet: Hypercorrelation Squeeze Networks for few-shot segmentation.

Min, Kang and Cho, ICCV 2021 (https://arxiv.org/abs/2104.01538). Written
from the description of the official ``HypercorrSqueezeNetwork``
(juhongm999/hsnet, ``model/hsnet.py``).

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``B`` episodes, ``K``
shots, ``N = B * K`` (query, support) pairs, ``H, W`` input size, ``H0, W0``
original query size, ``Hq, Wq`` the encoder's (finest level's) query size.
"""
from typing import List, Optional

import torch
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList)

from ...structures import (EpisodeInputs, FeatureGroups, SupportFeatures,
                           check_episode_shapes, check_episode_tensors,
                           check_support_shapes)
from ...utils.autocast import amp_context, check_input_dtype
from ...utils.cli import UserError
from ..execution_policy import (check_impl, check_part_impls, pair_chunk_size,
                                set_impl)
from .correlation_memory import check_pyramid_memory
from .pair_chunks import (encode_pairs_in_chunks, largest_level_bytes,
                          pair_features)
from .prediction_packer import pack_episode_predictions, resize_shot_logits


@MODELS.register_module()
class HSNet(BaseSegmentor):
    """Few-shot segmentor: query + K annotated supports -> query mask.

    Data flow (the query's backbone features are computed once per episode,
    and the K shots run through neck, encoder and head as one batch of
    N = B * K pairs)::

        loss():    encode_shots() -> decode_head.loss()  (each shot's
                   logits against the query mask, loss averaged over shots)
        predict(): encode_shots() -> decode_head()
                   -> pack_episode_predictions() (resize, K-shot vote)
        encode_decode() / forward(mode='tensor'): check the tensors ->
                   encode_shots() -> decode_head() -> resize to input size
        encode_shots(): backbone(query), encode_support() (or a given one)
                   -> encode_pairs(): per chunk of pairs, neck (cosine
                      hypercorrelation pyramid) -> encoder (center-pivot
                      4D squeeze + mix, support mean)

    The tensor-level API is :meth:`encode_decode` (episode tensors in,
    per-shot logits (B, K, 2, H, W) out; ``vote_kshot(logits)`` gives the
    official K-shot masks (B, H, W)).

    **Support reuse.** :meth:`encode_support` encodes a support set once;
    ``predict(dict(query_img=q), samples, support=encoded)`` segments any
    number of queries with it (the API does so for many queries).

    **Output size**: each sample's ground truth's, else its ``ori_shape``
    (:func:`.pack_episode_predictions`), so the evaluation protocol is one
    switch of the pipeline, ``ResizeEpisode(keep_query_gt_original=...)``.

    **Pair chunks** (:mod:`.pair_chunks`): the neck and the encoder run a
    chunk of pairs at a time (the same result; the chunk size is the
    execution policy's); ``with_cp`` recomputes each chunk in the backward.

    Args:
        backbone (dict): a backbone returning features grouped by pyramid
            level, deepest first, e.g. ``HSNetResNet``.
        neck (dict): e.g. ``HypercorrelationNeck``.
        encoder (dict): e.g. ``CenterPivot4DEncoder``.
        decode_head (dict): e.g. ``ContextDecodeHead``.
        impl (str): the execution policy of the whole model, set on every
            part (:mod:`hsnet_mm.models.execution_policy`): ``'fast'`` or
            ``'reference'`` (the correctness oracle). A part config that
            sets another ``impl`` is refused. Defaults to ``'fast'``.
        pair_chunk (int, optional): pairs per neck + encoder call on the
            fast path. Defaults to None (by device: see the policy).
        with_cp (bool): activation checkpointing of the neck and encoder,
            per chunk, in training (less memory for one more forward of
            both). Defaults to False.
        train_cfg (dict, optional): unused. Defaults to None.
        test_cfg (dict, optional): ``amp_dtype``: predict under autocast
            (``'auto'``, ``'float16'`` or ``'bfloat16'``, as ``tools/test.py
            --amp [--amp-dtype]`` sets it). Defaults to None.
        data_preprocessor (dict, optional): e.g.
            ``EpisodeDataPreProcessor``.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 encoder: ConfigType,
                 decode_head: ConfigType,
                 impl: str = 'fast',
                 pair_chunk: Optional[int] = None,
                 with_cp: bool = False,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        if test_cfg and 'output_size' in test_cfg:
            raise UserError(
                'HSNet.test_cfg.output_size is gone: predictions follow the '
                'ground truth\'s size, so the protocol is chosen in the data '
                'pipeline with ResizeEpisode(keep_query_gt_original=True) '
                '(tools/test.py --original-size sets it)')
        if pair_chunk is not None and pair_chunk < 1:
            raise UserError(f'pair_chunk must be >= 1, got {pair_chunk}')
        check_part_impls(impl, backbone=backbone, neck=neck, encoder=encoder)
        self.pair_chunk = pair_chunk
        self.with_cp = with_cp
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.encoder = MODELS.build(encoder)
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.train_cfg = train_cfg or {}
        self.test_cfg = test_cfg or {}
        self.impl = impl

    @property
    def impl(self) -> str:
        """The execution policy; setting it sets every part's."""
        return self._impl

    @impl.setter
    def impl(self, impl: str) -> None:
        self._impl = check_impl(impl)
        for child in self.children():
            set_impl(child, impl)

    def extract_feat(self, imgs: torch.Tensor) -> FeatureGroups:
        """Backbone features of images (N, 3, H, W), deepest level first."""
        return self.backbone(imgs)

    def encode_support(self, support_imgs: torch.Tensor,
                       support_masks: torch.Tensor) -> SupportFeatures:
        """Encode a support set once, to segment many queries with it.

        Args:
            support_imgs (Tensor): (Bs, K, 3, H, W), normalised; Bs = 1 for
                one support set shared by every query of a batch.
            support_masks (Tensor): (Bs, K, H, W), float/bool/int 0/1.

        Returns:
            SupportFeatures: for ``encode_shots``/``predict(support=...)``.
        """
        check_support_shapes(support_imgs, support_masks)
        bs, k = support_imgs.shape[:2]
        return SupportFeatures(
            feats=self.extract_feat(support_imgs.flatten(0, 1)),
            masks=support_masks.flatten(0, 1).to(support_imgs.dtype),
            num_shots=k,
            batch_size=bs)

    def encode_shots(
            self,
            query_img: torch.Tensor,
            support_imgs: Optional[torch.Tensor] = None,
            support_masks: Optional[torch.Tensor] = None,
            support: Optional[SupportFeatures] = None) -> torch.Tensor:
        """Encode every (query, shot) pair of a batch of episodes.

        Args:
            query_img (Tensor): (B, 3, H, W), normalised.
            support_imgs (Tensor, optional): (B, K, 3, H, W), normalised.
            support_masks (Tensor, optional): (B, K, H, W), 0/1.
            support (SupportFeatures, optional): from
                :meth:`encode_support`, instead of the two above.

        Returns:
            Tensor: encoder output (N, C, Hq, Wq), shot-minor.

        Raises:
            TypeError, ValueError: bad dtypes or shapes, named.
            MemoryError: the hypercorrelation cannot fit (checked after the
                query's backbone pass, before the correlation).
        """
        check_input_dtype(self, query_img)
        b = query_img.shape[0]
        if support is None:
            check_episode_shapes(query_img, support_imgs, support_masks)
            k = support_imgs.shape[1]
        else:
            if support_imgs is not None or support_masks is not None:
                raise ValueError('give support_imgs and support_masks, or '
                                 'encoded supports (support=...), not both')
            k = support.num_shots
            support.check_queries(b, query_img.shape[-2:])
        query_feats = self.extract_feat(query_img)
        # the pairs whose correlations are held at once: a chunk, unless
        # autograd keeps them all for a backward pass
        chunk = self._chunk_size(query_feats, b * k, query_img.device)
        at_once = b * k if self._keeps_every_chunk() else chunk
        check_pyramid_memory(query_feats, at_once, query_img.shape[-2:])
        if support is None:
            support = self.encode_support(support_imgs, support_masks)
        return self.encode_pairs(*pair_features(query_feats, support), chunk)

    def encode_pairs(self,
                     query_feats: FeatureGroups,
                     support_feats: FeatureGroups,
                     support_masks: torch.Tensor,
                     chunk: Optional[int] = None) -> torch.Tensor:
        """Neck and encoder over N (query, support) pairs, in chunks.

        Args: as :func:`.encode_pairs_in_chunks` (N pairs; ``chunk`` by the
        execution policy when None). Returns (N, C, Hq, Wq).
        """
        if chunk is None:
            chunk = self._chunk_size(query_feats, support_masks.shape[0],
                                     support_masks.device)
        return encode_pairs_in_chunks(self.neck, self.encoder, query_feats,
                                      support_feats, support_masks, chunk,
                                      self._checkpointing())

    def _checkpointing(self) -> bool:
        return self.with_cp and self.training and torch.is_grad_enabled()

    def _keeps_every_chunk(self) -> bool:
        """Whether autograd holds every chunk's correlation (saved for the
        backward pass) until the step ends."""
        return (torch.is_grad_enabled() and not self._checkpointing()
                and any(p.requires_grad for p in self.parameters()))

    def _chunk_size(self, query_feats: FeatureGroups, n: int,
                    device: torch.device) -> int:
        return pair_chunk_size(self.impl, self.pair_chunk,
                               largest_level_bytes(query_feats), n, device)

    def _shot_logits(
            self,
            inputs: EpisodeInputs,
            support: Optional[SupportFeatures] = None) -> torch.Tensor:
        """Per-shot logits at decoder resolution, (B, K, 2, 2 Hq, 2 Wq)."""
        b = inputs['query_img'].shape[0]
        # a list, as mmseg's heads take their inputs ([in_index])
        logits = self.decode_head(
            [self.encode_shots(**inputs, support=support)])
        return logits.view(b, -1, *logits.shape[1:])

    def encode_decode(
            self,
            inputs: EpisodeInputs,
            batch_img_metas: Optional[List[dict]] = None) -> torch.Tensor:
        """Per-shot logits at the input size: the tensor-level API.

        Args:
            inputs (dict): ``query_img`` (B, 3, H, W) and ``support_imgs``
                (B, K, 3, H, W), normalised; ``support_masks`` (B, K, H, W),
                float/bool/int 0/1. Checked here
                (:func:`~hsnet_mm.structures.check_episode_tensors`).
            batch_img_metas (list[dict], optional): unused (mmseg's
                signature).

        Returns:
            Tensor: (B, K, 2, H, W); channel 1 is the foreground. Shot ``k``
            equals a 1-shot run with support ``k`` alone.
        """
        masks = check_episode_tensors(**inputs)
        inputs = dict(inputs, support_masks=masks)
        return resize_shot_logits(
            self._shot_logits(inputs), inputs['query_img'].shape[-2:],
            self.align_corners)

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
                data_samples: OptSampleList = None,
                support: Optional[SupportFeatures] = None) -> SampleList:
        """Predict query masks and store them in the data samples.

        Args:
            inputs (dict): an episode batch (the data preprocessor's
                output); only ``query_img`` when ``support`` is given.
            data_samples (list[SegDataSample], optional): their
                ``gt_sem_seg`` or ``ori_shape`` sets the output size; new
                ones (output at the input size) when None.
            support (SupportFeatures, optional): supports encoded by
                :meth:`encode_support`, reused instead of ``inputs``'.

        Returns:
            list[SegDataSample]: with ``pred_sem_seg`` (the official K-shot
            vote), ``shot_pred_sem_seg`` and ``seg_logits``, as
            :func:`~hsnet_mm.models.segmentors.prediction_packer.\
pack_episode_predictions` writes them.
        """
        with amp_context(
                self.test_cfg.get('amp_dtype'),
                inputs['query_img'].device.type):
            logits = self._shot_logits(inputs, support).float()
        return pack_episode_predictions(logits, data_samples,
                                        self.align_corners,
                                        inputs['query_img'].shape[-2:])

    def _forward(self,
                 inputs: EpisodeInputs,
                 data_samples: OptSampleList = None) -> torch.Tensor:
        """Tensor mode: :meth:`encode_decode`, (B, K, 2, H, W)."""
        return self.encode_decode(inputs)
