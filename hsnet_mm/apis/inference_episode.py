# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""One-call few-shot inference on a user's images.

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``K`` shots, ``H, W``
network input size, ``H0, W0`` original query size, ``h, w`` decoder output
size.

Data flow of :func:`inference_episode`::

    images/paths -> episode_inputs (RGB uint8, 0/1 masks, checks)
      -> the config's test pipeline (ResizeEpisode, PackEpisodeInputs;
         its LoadEpisode is skipped: the images are already loaded)
      -> model.data_preprocessor (normalise)
      -> encode_supports(): model.backbone(supports)         once per call
      -> for each query: model.backbone(query) -> model.encode_pairs
         (neck, encoder) -> model.decode_head -> (K, 2, h, w)
      -> resize to (H0, W0) (bilinear) -> vote_kshot -> SegDataSample

Support features are computed once per call and reused for every query.
This calls the segmentor's parts the way ``HSNet.encode_shots`` does, so a
result equals ``model.predict`` of the same episode without a ground truth
(output at ``ori_shape``), tested bit for bit.
"""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dataset import pseudo_collate
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from ..models.layers import foreground_argmax, vote_kshot
from ..structures import check_episode_tensors
from .episode_inputs import ImageLike, as_list, load_support_set, to_rgb
from .episode_pipeline import EpisodePipeline


def _model_pipeline(model: nn.Module) -> EpisodePipeline:
    cfg = getattr(model, 'cfg', None)
    if cfg is None:
        raise ValueError('model has no .cfg: build it with '
                         'hsnet_mm.apis.init_model(config, checkpoint)')
    pipe = getattr(model, '_episode_pipeline', None)
    if pipe is None or pipe[0] is not cfg:
        pipe = (cfg, EpisodePipeline(cfg))
        model._episode_pipeline = pipe  # built once per model and config
    return pipe[1]


@torch.no_grad()
def encode_supports(model: nn.Module, support_imgs: torch.Tensor,
                    support_masks: torch.Tensor) -> dict:
    """Backbone features of one support set, to reuse for many queries.

    Args:
        model (nn.Module): an ``HSNet``.
        support_imgs (Tensor): (1, K, 3, H, W), normalised.
        support_masks (Tensor): (1, K, H, W), 0/1 float.

    Returns:
        dict: ``feats`` (per level, L maps (K, C, Hs, Ws)), ``masks``
        (K, H, W), ``k`` (K) and ``size`` (H, W).
    """
    k = support_imgs.shape[1]
    feats = model.backbone(support_imgs.flatten(0, 1))
    return dict(
        feats=feats,
        masks=support_masks.flatten(0, 1),
        k=k,
        size=tuple(support_imgs.shape[-2:]))


@torch.no_grad()
def predict_with_supports(model: nn.Module, query_img: torch.Tensor,
                          supports: dict,
                          out_size: Sequence[int]) -> torch.Tensor:
    """Per-shot logits of one query against encoded supports.

    The same operations as ``HSNet.encode_shots`` and ``predict`` (query
    features expanded to every shot, then ``HSNet.encode_pairs``: neck and
    encoder; then the decode head), with the support features of
    :func:`encode_supports`.

    Args:
        model (nn.Module): an ``HSNet``.
        query_img (Tensor): (1, 3, H, W), normalised.
        supports (dict): from :func:`encode_supports`.
        out_size (Sequence[int]): (H0, W0) of the output.

    Returns:
        Tensor: (1, K, 2, H0, W0) logits (bilinear from (h, w)).
    """
    k = supports['k']
    if tuple(query_img.shape[-2:]) != supports['size']:
        raise ValueError(f'query {tuple(query_img.shape[-2:])} and supports '
                         f'{supports["size"]} differ in input size')
    query_feats = model.backbone(query_img)
    if k > 1:
        query_feats = [[
            f.unsqueeze(1).expand(1, k, *f.shape[1:]).flatten(0, 1)
            for f in level
        ] for level in query_feats]
    feats = model.encode_pairs(query_feats, supports['feats'],
                               supports['masks'])
    logits = model.decode_head([feats])  # mmseg heads take a list
    logits = F.interpolate(
        logits,
        size=tuple(int(s) for s in out_size),
        mode='bilinear',
        align_corners=model.decode_head.align_corners)
    return logits.view(1, k, *logits.shape[1:])


def _to_sample(shot_logits: torch.Tensor, meta: dict) -> SegDataSample:
    """SegDataSample of (1, K, 2, H0, W0) per-shot logits."""
    sample = SegDataSample(metainfo=meta)
    sample.seg_logits = PixelData(data=shot_logits[0].mean(0))
    sample.pred_sem_seg = PixelData(data=vote_kshot(shot_logits))
    sample.shot_pred_sem_seg = PixelData(
        data=foreground_argmax(shot_logits[0], dim=1))
    return sample


def inference_episode(
    model: nn.Module, query: Union[ImageLike, Sequence[ImageLike]],
    supports: Union[ImageLike, Sequence[ImageLike]],
    support_masks: Union[ImageLike, Sequence[ImageLike]]
) -> Union[SegDataSample, List[SegDataSample]]:
    """Segment the supports' class in one or several query images.

    Args:
        model (nn.Module): an ``HSNet`` from :func:`init_model` (its
            ``cfg`` gives the test pipeline).
        query: a file path, an (H, W, 3) uint8 RGB array or a PIL image;
            or a list of them (a list of results comes back). Grayscale,
            RGBA, palette and 16-bit images are converted.
        supports: K >= 1 images in the same forms (a single one is K = 1).
            Every image may have its own size.
        support_masks: K masks (paths, (H, W) arrays or PIL images) of the
            supports' sizes; any nonzero pixel is foreground.

    Returns:
        SegDataSample | list[SegDataSample]: per query, at its original size
        (H0, W0): ``pred_sem_seg`` (1, H0, W0) int64 0/1 (the K-shot vote),
        ``seg_logits`` (2, H0, W0) (mean of the shots' logits),
        ``shot_pred_sem_seg`` (K, H0, W0) int64 0/1 (each shot's vote);
        metainfo ``ori_shape``, ``img_shape`` (input size), ``shot`` and
        ``img_path`` / ``support_img_paths`` when files were given.

    Raises:
        FileNotFoundError, OSError: a file is missing or cannot be read.
        ValueError: bad shapes, counts or empty support masks (named).
    """
    queries = as_list(query)
    if not queries:
        raise ValueError('query: give at least one query image')
    support_imgs, masks = load_support_set(supports, support_masks)
    query_imgs = [
        to_rgb(
            q, 'query' if len(queries) == 1
            and not isinstance(query, (list, tuple)) else f'query[{i}]')
        for i, q in enumerate(queries)
    ]
    samples = run_loaded_episodes(model, query_imgs, support_imgs, masks,
                                  queries, as_list(supports))
    return samples if isinstance(query, (list, tuple)) else samples[0]


def _path_meta(queries: Sequence, supports: Sequence, i: int) -> dict:
    meta = {}
    if isinstance(queries[i], str):
        meta['img_path'] = queries[i]
    if all(isinstance(s, str) for s in supports):
        meta['support_img_paths'] = list(supports)
    return meta


@torch.no_grad()
def run_loaded_episodes(
        model: nn.Module,
        query_imgs: Sequence,
        support_imgs: Sequence,
        support_masks: Sequence,
        queries: Optional[Sequence] = None,
        supports: Optional[Sequence] = None) -> List[SegDataSample]:
    """:func:`inference_episode` on loaded and checked arrays.

    Args:
        model (nn.Module): an ``HSNet`` with ``cfg``.
        query_imgs (Sequence[np.ndarray]): (H0, W0, 3) uint8 RGB queries.
        support_imgs (Sequence[np.ndarray]): K (Hk, Wk, 3) uint8 RGB.
        support_masks (Sequence[np.ndarray]): K (Hk, Wk) 0/1 masks.
        queries, supports (Sequence, optional): the user's originals, for
            ``img_path`` metainfo.

    Returns:
        list[SegDataSample]: one per query (see :func:`inference_episode`).
    """
    pipeline = _model_pipeline(model)
    queries = queries or [None] * len(query_imgs)
    supports = supports or [None] * len(support_imgs)
    cache = None
    samples = []
    for i, img in enumerate(query_imgs):
        packed = pipeline(img, support_imgs, support_masks,
                          _path_meta(queries, supports, i))
        data = model.data_preprocessor(pseudo_collate([packed]), False)
        inputs = data['inputs']
        if i == 0:
            check_episode_tensors(**inputs)
            empty = [
                f'shot {k} (support_masks[{k}])'
                for k in range(len(support_imgs))
                if not inputs['support_masks'][0, k].any()
            ]
            if empty:
                raise ValueError(
                    f'the foreground of {", ".join(empty)} vanishes when '
                    f'resized to the input size '
                    f'{tuple(inputs["support_masks"].shape[-2:])} (H, W): '
                    f'the object is too small; crop the image closer')
            cache = encode_supports(model, inputs['support_imgs'],
                                    inputs['support_masks'])
        meta = data['data_samples'][0].metainfo
        logits = predict_with_supports(model, inputs['query_img'], cache,
                                       meta['ori_shape'][:2])
        samples.append(_to_sample(logits, meta))
    return samples
