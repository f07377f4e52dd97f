# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""One-call few-shot inference on a user's images.

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``K`` shots, ``H, W``
network input size, ``H0, W0`` original query size.

Data flow of :func:`inference_episode`::

    images/paths -> episode_inputs (RGB uint8, 0/1 masks, checks)
      -> the config's test pipeline (ResizeEpisode, PackEpisodeInputs;
         its LoadEpisode is skipped: the images are already loaded)
      -> model.data_preprocessor (normalise, check)
      -> model.encode_support(supports)                once per call
      -> for each query: model.predict(query, support=encoded)
         (the segmentor's own prediction and packing, output at (H0, W0))

The API only loads, runs the pipeline and calls the model, as mmseg's
``inference_model`` does: any segmentor with ``encode_support`` and
``predict(inputs, data_samples, support=...)`` works (``docs/reuse.md``).
A result equals ``model.predict`` of the same episode without a ground
truth, bit for bit (tested). Queries are decoded one at a time: the
decoded originals of a list of queries are never held together (the
results, with their original-size masks, are).
"""
from typing import Iterable, Iterator, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.dataset import pseudo_collate
from mmseg.structures import SegDataSample

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


def inference_episode(
    model: nn.Module,
    query: Union[ImageLike, Sequence[ImageLike]],
    supports: Union[ImageLike, Sequence[ImageLike]],
    support_masks: Union[ImageLike, Sequence[ImageLike]],
    max_pixels: Optional[int] = None
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
        max_pixels (int, optional): Refuse images of more pixels, read
            from a file's header before decoding
            (:mod:`~hsnet_mm.apis.pixel_limit`; 0: no limit). Defaults to
            None: ``$HSNET_MAX_PIXELS``, else 150 megapixels.

    Returns:
        SegDataSample | list[SegDataSample]: per query, at its original size
        (H0, W0): ``pred_sem_seg`` (1, H0, W0) int64 0/1 (the K-shot vote),
        ``seg_logits`` (2, H0, W0) (mean of the shots' logits),
        ``shot_pred_sem_seg`` (K, H0, W0) int64 0/1 (each shot's vote;
        these two at the input size ``img_shape`` for a query over
        ``FULL_SIZE_MAX_PIXELS``, see ``pack_episode_predictions``);
        metainfo ``ori_shape``, ``img_shape`` (input size), ``shot`` and
        ``img_path`` / ``support_img_paths`` when files were given.

    Raises:
        FileNotFoundError, OSError: a file is missing or cannot be read.
        ValueError: bad shapes, counts or empty support masks (named).
        UserError: an image over the pixel limit (named, with its size).

    Memory: the results (8 bytes a pixel of each query, ``pred_sem_seg``)
    plus one query's working set (``docs/inference.md``, "Memory").
    """
    queries = as_list(query)
    if not queries:
        raise ValueError('query: give at least one query image')
    support_imgs, masks = load_support_set(supports, support_masks, max_pixels)
    single = not isinstance(query, (list, tuple))
    query_imgs = (to_rgb(q, 'query' if single else f'query[{i}]', max_pixels)
                  for i, q in enumerate(queries))  # decoded one at a time
    samples = run_loaded_episodes(model, query_imgs, support_imgs, masks,
                                  queries, as_list(supports))
    return samples[0] if single else samples


def _path_meta(queries: Sequence, supports: Sequence, i: int) -> dict:
    meta = {}
    if isinstance(queries[i], str):
        meta['img_path'] = queries[i]
    if all(isinstance(s, str) for s in supports):
        meta['support_img_paths'] = list(supports)
    return meta


def run_loaded_episodes(
        model: nn.Module,
        query_imgs: Iterable,
        support_imgs: Sequence,
        support_masks: Sequence,
        queries: Optional[Sequence] = None,
        supports: Optional[Sequence] = None) -> List[SegDataSample]:
    """:func:`inference_episode` on loaded and checked arrays.

    Args:
        model (nn.Module): a few-shot segmentor with ``cfg``,
            ``encode_support`` and ``predict(..., support=...)``.
        query_imgs (Iterable[np.ndarray]): (H0, W0, 3) uint8 RGB queries
            (e.g. a generator that decodes them one at a time).
        support_imgs (Sequence[np.ndarray]): K (Hk, Wk, 3) uint8 RGB.
        support_masks (Sequence[np.ndarray]): K (Hk, Wk) 0/1 masks.
        queries, supports (Sequence, optional): the user's originals, for
            ``img_path`` metainfo.

    Returns:
        list[SegDataSample]: one per query (see :func:`inference_episode`).
    """
    return list(
        iter_loaded_episodes(model, query_imgs, support_imgs, support_masks,
                             queries, supports))


def iter_loaded_episodes(
        model: nn.Module,
        query_imgs: Iterable,
        support_imgs: Sequence,
        support_masks: Sequence,
        queries: Optional[Sequence] = None,
        supports: Optional[Sequence] = None) -> Iterator[SegDataSample]:
    """:func:`run_loaded_episodes` as a generator: one result per query,
    made when asked for, so that a stream of queries (a folder, a video)
    never sits in memory; the supports are encoded once, at the first
    query. Arguments as :func:`run_loaded_episodes`.
    """
    pipeline = _model_pipeline(model)
    supports = supports or [None] * len(support_imgs)
    encoded = None
    i = 0
    # (not enumerate: its reused tuple would keep the last decoded image)
    for img in query_imgs:
        meta = _path_meta(queries, supports, i) if queries else {}
        packed = pipeline(img, support_imgs, support_masks, meta)
        del img  # the decoded original: only the resized one is needed
        with torch.no_grad():
            data = model.data_preprocessor(pseudo_collate([packed]), False)
            inputs = data['inputs']
            if encoded is None:
                _check_support_foreground(inputs['support_masks'])
                encoded = model.encode_support(inputs['support_imgs'],
                                               inputs['support_masks'])
            sample, = model.predict(
                dict(query_img=inputs['query_img']),
                data['data_samples'],
                support=encoded)
        del packed, data, inputs
        i += 1
        yield sample
        del sample  # not held while the next query is decoded


def _check_support_foreground(masks: torch.Tensor) -> None:
    """Refuse supports whose foreground vanished in the resize."""
    empty = [
        f'shot {k} (support_masks[{k}])' for k in range(masks.shape[1])
        if not masks[0, k].any()
    ]
    if empty:
        raise ValueError(
            f'the foreground of {", ".join(empty)} vanishes when resized '
            f'to the input size {tuple(masks.shape[-2:])} (H, W): the '
            'object is too small; crop the image closer')
