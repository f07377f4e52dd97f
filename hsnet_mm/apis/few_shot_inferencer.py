# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""``FewShotInferencer``: ``MMSegInferencer``'s conventions for episodes.

Like ``mmseg.apis.MMSegInferencer`` it is built from a config and weights,
called on inputs, returns ``dict(predictions=..., visualization=...)`` and,
with ``out_dir``, writes ``vis/`` pictures and ``pred/`` mask PNGs. The
inputs are an episode: queries plus one support set.
"""
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmseg.structures import SegDataSample

from ..utils.fileio import atomic_write_bytes
from .episode_inputs import (ImageLike, as_list, load_support_set, query_name,
                             to_rgb)
from .inference import init_model
from .inference_episode import run_loaded_episodes
from .show_result import encode_png, show_episode_result


def check_out_dir(out_dir: Union[str, os.PathLike], arg: str = 'out_dir'):
    """Refuse an output folder that cannot be created or written.

    Nothing is created: the nearest existing folder above ``out_dir`` (or
    ``out_dir`` itself) must take a temporary file.

    Raises:
        OSError: ``out_dir`` (or a parent) is a file, or is not writable.
    """
    path = osp.abspath(os.fspath(out_dir))
    probe = path
    while not osp.exists(probe):
        probe = osp.dirname(probe)
    if not osp.isdir(probe):
        raise OSError(f'{arg} {out_dir} is not writable: {probe} is a file, '
                      f'not a folder')
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        raise OSError(f'{arg} {out_dir} is not writable ({probe}: '
                      f'{e.strerror or e})') from e


def unique_names(queries: Sequence) -> List[str]:
    """Output file stems: the query file stems, numbered when repeated."""
    names = [query_name(q, i) for i, q in enumerate(queries)]
    counts = {n: names.count(n) for n in names}
    return [n if counts[n] == 1 else f'{n}_{i}' for i, n in enumerate(names)]


class FewShotInferencer:
    """Segment the class of a support set in query images.

    Args:
        model (str | Config | nn.Module): A config (file or object), or a
            model from :func:`init_model`.
        weights (str, optional): The checkpoint. Defaults to None (random
            initialisation: for tests only).
        device (str, optional): e.g. 'cpu', 'cuda:0'. Defaults to None
            (CUDA when available, else CPU).

    Example::

        inferencer = FewShotInferencer(CONFIG, weights=CHECKPOINT)
        out = inferencer(QUERY, [SUPPORT], [SUPPORT_MASK], out_dir=OUT_DIR)
        out['predictions']['sem_seg']  # (H0, W0) int64 0/1
    """

    def __init__(self,
                 model: Union[str, Config, nn.Module],
                 weights: Optional[str] = None,
                 device: Optional[str] = None) -> None:
        if isinstance(model, nn.Module):
            if weights is not None:
                raise ValueError('give weights with a config, not a model')
            self.model = model.eval()
        else:
            if device is None:
                device = 'cuda:0' if torch.cuda.is_available() else 'cpu'
            self.model = init_model(model, weights, device=device)
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
                 pred_out_dir: str = 'pred') -> Dict[str, list]:
        """Run the episode(s) and write or return the results.

        Everything is read and checked, and the model run, before the
        first file is written; each file is written atomically.

        Args:
            queries: one query (path, (H, W, 3) uint8 array, PIL image) or
                a list of them.
            supports: the K support images.
            support_masks: their K masks (nonzero = foreground).
            return_datasamples (bool): Return ``SegDataSample`` objects
                instead of numpy dicts. Defaults to False.
            out_dir (str): Write ``<out_dir>/<img_out_dir>/<name>.png``
                (supports with masks, then the query with the prediction)
                and ``<out_dir>/<pred_out_dir>/<name>.png`` (the mask,
                0/255 grayscale, at the query's size); ``<name>`` is the
                query file's stem or the query's index as ``00000000``.
                Defaults to '' (nothing written).
            show (bool): Show the pictures with matplotlib. Defaults to
                False.
            return_vis (bool): Return the pictures. Defaults to False.
            opacity (float): Opacity of the overlays. Defaults to 0.5.
            img_out_dir (str): Sub-folder of the pictures. Defaults to
                'vis'.
            pred_out_dir (str): Sub-folder of the masks. Defaults to 'pred'.

        Returns:
            dict: ``predictions``: per query ``dict(sem_seg=(H0, W0) int64,
            shot_sem_seg=(K, H0, W0) int64)`` (or the ``SegDataSample``;
            ``shot_sem_seg`` is at the input size for a query over
            ``FULL_SIZE_MAX_PIXELS``, see ``pack_episode_predictions``, and
            absent for a segmentor that gives no per-shot votes);
            ``visualization``: per query the (H', W', 3) uint8 RGB picture
            when ``return_vis``, else an empty list. A single query given
            alone (not in a list) gives a single prediction and picture.
        """
        if not 0 <= opacity <= 1:
            raise ValueError(f'opacity must be in [0, 1], got {opacity}')
        if out_dir:
            check_out_dir(out_dir)
        single = not isinstance(queries, (list, tuple))
        queries = as_list(queries)
        if not queries:
            raise ValueError('queries: give at least one query image')
        imgs, masks = load_support_set(supports, support_masks)
        query_imgs = [
            to_rgb(q, 'query' if single else f'queries[{i}]')
            for i, q in enumerate(queries)
        ]
        preds = run_loaded_episodes(self.model, query_imgs, imgs, masks,
                                    queries, as_list(supports))
        vis = self.visualize(query_imgs, imgs, masks, preds, show,
                             bool(out_dir) or return_vis, opacity)
        results = self.postprocess(preds, vis if return_vis else None,
                                   return_datasamples)
        if out_dir:
            self.write(preds, vis, unique_names(queries),
                       osp.join(out_dir, img_out_dir),
                       osp.join(out_dir, pred_out_dir))
        if single:
            results = {k: v[0] for k, v in results.items() if v}
            results.setdefault('visualization', [])
        return results

    def visualize(self, query_imgs: Sequence[np.ndarray],
                  support_imgs: Sequence[np.ndarray],
                  support_masks: Sequence[np.ndarray],
                  preds: Sequence[SegDataSample], show: bool, draw: bool,
                  opacity: float) -> Optional[List[np.ndarray]]:
        """The episode pictures (None unless drawn or shown)."""
        if not (draw or show):
            return None
        return [
            show_episode_result(
                q, support_imgs, support_masks, p, opacity=opacity, show=show)
            for q, p in zip(query_imgs, preds)
        ]

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

    @staticmethod
    def write(preds: Sequence[SegDataSample], vis: Sequence[np.ndarray],
              names: Sequence[str], img_dir: str, pred_dir: str) -> None:
        """Write ``img_dir/<name>.png`` and ``pred_dir/<name>.png``."""
        files = []
        for pred, picture, name in zip(preds, vis, names):
            mask = pred.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            files.append((osp.join(img_dir, f'{name}.png'),
                          encode_png(picture, f'picture of {name}')))
            files.append((osp.join(pred_dir, f'{name}.png'),
                          encode_png(mask * 255, f'mask of {name}')))
        for path, data in files:
            atomic_write_bytes(path, data)
