# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""``FewShotInferencer``: ``MMSegInferencer``'s conventions for episodes.

Like ``mmseg.apis.MMSegInferencer`` it is built from a config and weights,
called on inputs, returns ``dict(predictions=..., visualization=...)`` and,
with ``out_dir``, writes ``vis/`` pictures and ``pred/`` mask PNGs. The
inputs are an episode: queries plus one support set. The queries are
streamed (:meth:`FewShotInferencer.stream`): decoded, predicted, drawn and
written one at a time, so the memory is the returned predictions plus one
query's working set (``docs/inference.md``, "Memory").
"""
import os.path as osp
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmseg.structures import SegDataSample

from ..deploy import is_export_dir
from ..utils.fileio import atomic_write_bytes, check_writable_dirs
from ..visualization.episode_drawer import draw_episode, shrink_image
from .episode_inputs import (ImageLike, as_list, check_image, load_support_set,
                             query_name, to_rgb)
from .inference import init_model
from .inference_episode import iter_loaded_episodes
from .show_result import encode_mask_png, encode_png, show_picture


def unique_names(queries: Sequence) -> List[str]:
    """Output file stems: the query file stems, numbered when repeated."""
    names = [query_name(q, i) for i, q in enumerate(queries)]
    counts = {n: names.count(n) for n in names}
    return [n if counts[n] == 1 else f'{n}_{i}' for i, n in enumerate(names)]


class _EpisodeOutputs:
    """What :meth:`FewShotInferencer.stream` makes of each query: a
    bounded copy of it kept for drawing, its picture, its files."""

    def __init__(self, support_imgs: Sequence[np.ndarray],
                 support_masks: Sequence[np.ndarray], opacity: float,
                 img_dir: str, pred_dir: str, show: bool,
                 return_vis: bool) -> None:
        self.support_imgs, self.support_masks = support_imgs, support_masks
        self.opacity, self.show, self.return_vis = opacity, show, return_vis
        self.img_dir, self.pred_dir = img_dir, pred_dir
        self.draw = bool(img_dir) or show or return_vis
        self.queries: List[np.ndarray] = []

    def keep_query(self, img: np.ndarray) -> np.ndarray:
        """Keep ``img`` shrunk to a panel's size (to draw); return it."""
        if self.draw:
            self.queries.append(shrink_image(img))
        return img

    def results(
        self, samples: Iterator[SegDataSample], names: Sequence[str]
    ) -> Iterator[Tuple[SegDataSample, Optional[np.ndarray]]]:
        """Draw, write and show each result; yield it and its picture."""
        i = 0
        for sample in samples:
            picture = None
            if self.draw:
                picture = draw_episode(
                    self.queries.pop(0),
                    self.support_imgs,
                    self.support_masks,
                    pred_mask=sample.pred_sem_seg.data,
                    opacity=self.opacity)
            if self.img_dir:
                atomic_write_bytes(
                    osp.join(self.img_dir, f'{names[i]}.png'),
                    encode_png(picture, f'picture of {names[i]}'))
                atomic_write_bytes(
                    osp.join(self.pred_dir, f'{names[i]}.png'),
                    encode_mask_png(sample.pred_sem_seg.data))
            if self.show:
                show_picture(picture)
            i += 1
            yield sample, picture if self.return_vis else None
            del sample, picture  # not held while the next one is made


class FewShotInferencer:
    """Segment the class of a support set in query images.

    Args:
        model (str | Config | nn.Module): A config (file or object), or a
            model from :func:`init_model`.
        weights (str, optional): The checkpoint. Defaults to None (random
            initialisation: for tests only).
        device (str, optional): e.g. 'cpu', 'cuda:0'. Defaults to None
            (CUDA when available, else CPU).
        max_pixels (int, optional): Refuse images of more pixels
            (:mod:`~hsnet_mm.apis.pixel_limit`; 0: no limit). Defaults to
            None: ``$HSNET_MAX_PIXELS``, else 150 megapixels.
        backend (str, optional): 'pytorch', or 'onnxruntime'/'openvino'
            with ``weights`` an export directory (:func:`init_model`).
            Defaults to None (PyTorch, or ONNX Runtime for an export).

    Example::

        inferencer = FewShotInferencer(CONFIG, weights=CHECKPOINT)
        out = inferencer(QUERY, [SUPPORT], [SUPPORT_MASK], out_dir=OUT_DIR)
        out['predictions']['sem_seg']  # (H0, W0) int64 0/1
    """

    def __init__(self,
                 model: Union[str, Config, nn.Module],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 max_pixels: Optional[int] = None,
                 backend: Optional[str] = None) -> None:
        self.max_pixels = max_pixels
        if isinstance(model, nn.Module):
            if weights is not None or backend is not None:
                raise ValueError('give weights (and a backend) with a config, '
                                 'not a model')
            self.model = model.eval()
        else:
            if device is None:
                runtime = (
                    backend not in (None, 'pytorch') or is_export_dir(weights)
                    or is_export_dir(model))
                device = ('cuda:0' if torch.cuda.is_available() and not runtime
                          else 'cpu')
            self.model = init_model(
                model, weights, device=device, backend=backend)
        self.cfg = self.model.cfg

    def __call__(self,
                 queries: Union[ImageLike, Sequence[ImageLike]],
                 supports: Union[ImageLike, Sequence[ImageLike]],
                 support_masks: Union[ImageLike, Sequence[ImageLike]],
                 return_datasamples: bool = False,
                 out_dir: str = '',
                 show: bool = False,
                 return_vis: bool = False,
                 opacity: float = 0.5,
                 img_out_dir: str = 'vis',
                 pred_out_dir: str = 'pred',
                 max_pixels: Optional[int] = None) -> Dict[str, list]:
        """Run the episode(s) and write or return the results.

        The supports and every query's header (file, format, size) are
        checked before the model runs; then the queries are decoded,
        predicted, drawn and written one at a time (:meth:`stream`), each
        file atomically.

        Args:
            queries: one query (path, (H, W, 3) uint8 array, PIL image) or
                a list of them.
            supports: the K support images.
            support_masks: their K masks (nonzero = foreground).
            return_datasamples (bool): Return ``SegDataSample`` objects
                instead of numpy dicts. Defaults to False.
            out_dir (str): Write ``<out_dir>/<img_out_dir>/<name>.png``
                (supports with masks, then the query with the prediction;
                each panel at most ``PANEL_MAX_PIXELS`` pixels) and
                ``<out_dir>/<pred_out_dir>/<name>.png`` (the mask, 0/255
                grayscale, at the query's size); ``<name>`` is the query
                file's stem or the query's index as ``00000000``.
                Defaults to '' (nothing written).
            show (bool): Show the pictures with matplotlib. Defaults to
                False.
            return_vis (bool): Return the pictures. Defaults to False.
            opacity (float): Opacity of the overlays. Defaults to 0.5.
            img_out_dir (str): Sub-folder of the pictures. Defaults to
                'vis'.
            pred_out_dir (str): Sub-folder of the masks. Defaults to 'pred'.
            max_pixels (int, optional): The pixel limit of the images
                (:mod:`~hsnet_mm.apis.pixel_limit`). Defaults to None (the
                inferencer's).

        Returns:
            dict: ``predictions``: per query ``dict(sem_seg=(H0, W0) int64,
            shot_sem_seg=(K, H0, W0) int64)`` (or the ``SegDataSample``;
            ``shot_sem_seg`` is at the input size for a query over
            ``FULL_SIZE_MAX_PIXELS``, see ``pack_episode_predictions``, and
            absent for a segmentor that gives no per-shot votes);
            ``visualization``: per query the (H', W', 3) uint8 RGB picture
            when ``return_vis``, else an empty list. A single query given
            alone (not in a list) gives a single prediction and picture.
            The predictions add 8 bytes a query pixel each: for many large
            queries, iterate over :meth:`stream` instead.
        """
        single = not isinstance(queries, (list, tuple))
        preds, vis = [], []
        for pred, picture in self.stream(queries, supports, support_masks,
                                         out_dir, show, return_vis, opacity,
                                         img_out_dir, pred_out_dir,
                                         max_pixels):
            preds.append(pred)
            vis.append(picture)
        results = self.postprocess(preds, vis if return_vis else None,
                                   return_datasamples)
        if single:
            results = {k: v[0] for k, v in results.items() if v}
            results.setdefault('visualization', [])
        return results

    def stream(
        self,
        queries: Union[ImageLike, Sequence[ImageLike]],
        supports: Union[ImageLike, Sequence[ImageLike]],
        support_masks: Union[ImageLike, Sequence[ImageLike]],
        out_dir: str = '',
        show: bool = False,
        return_vis: bool = False,
        opacity: float = 0.5,
        img_out_dir: str = 'vis',
        pred_out_dir: str = 'pred',
        max_pixels: Optional[int] = None
    ) -> Iterator[Tuple[SegDataSample, Optional[np.ndarray]]]:
        """:meth:`__call__` one query at a time, in memory bounded by one
        query's: checks now, then a generator that decodes, predicts,
        draws and writes each query when asked for its result.

        Arguments as :meth:`__call__`.

        Returns:
            Iterator[tuple]: per query, its ``SegDataSample`` and its
            picture (None unless ``return_vis``). Drop each before asking
            for the next to keep the memory to one query's.
        """
        if not 0 <= opacity <= 1:
            raise ValueError(f'opacity must be in [0, 1], got {opacity}')
        if max_pixels is None:
            max_pixels = self.max_pixels
        if out_dir:  # a file named like an output folder: refused up front
            check_writable_dirs(
                osp.join(out_dir, img_out_dir),
                osp.join(out_dir, pred_out_dir))
        single = not isinstance(queries, (list, tuple))
        queries = as_list(queries)
        if not queries:
            raise ValueError('queries: give at least one query image')
        imgs, masks = load_support_set(supports, support_masks, max_pixels)
        args = [
            'query' if single else f'queries[{i}]'
            for i in range(len(queries))
        ]
        for query, arg in zip(queries, args):
            check_image(query, arg, max_pixels)  # header only: no decoding
        draw = _EpisodeOutputs(imgs, masks, opacity, out_dir
                               and osp.join(out_dir, img_out_dir), out_dir
                               and osp.join(out_dir, pred_out_dir), show,
                               return_vis)
        query_imgs = (draw.keep_query(to_rgb(q, a, max_pixels))
                      for q, a in zip(queries, args))
        return draw.results(
            iter_loaded_episodes(self.model, query_imgs, imgs, masks, queries,
                                 as_list(supports)), unique_names(queries))

    @staticmethod
    def postprocess(preds: Sequence[SegDataSample],
                    visualization: Optional[List[np.ndarray]],
                    return_datasamples: bool) -> Dict[str, list]:
        """``dict(predictions=[...], visualization=[...])``."""
        if return_datasamples:
            predictions = list(preds)
        else:
            predictions = [
                dict(
                    sem_seg=p.pred_sem_seg.data[0].cpu().numpy(),
                    **({} if 'shot_pred_sem_seg' not in p else dict(
                        shot_sem_seg=p.shot_pred_sem_seg.data.cpu().numpy())))
                for p in preds
            ]
        return dict(
            predictions=predictions, visualization=list(visualization or []))
