# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Draw a predicted episode: supports with masks, query with prediction.

The few-shot counterpart of ``mmseg.apis.show_result_pyplot``.
"""
import os
from typing import Optional, Sequence, Union

import cv2
import numpy as np
from mmseg.structures import SegDataSample

from ..utils.fileio import atomic_write_bytes
from ..visualization import draw_episode
from .episode_inputs import ImageLike, load_support_set, to_rgb


def encode_png(img: np.ndarray, what: str = 'image') -> bytes:
    """PNG bytes of an (H, W, 3) RGB or (H, W) uint8 image."""
    arr = np.ascontiguousarray(img[..., ::-1] if img.ndim == 3 else img)
    ok, buf = cv2.imencode('.png', arr)
    if not ok:
        raise RuntimeError(f'cv2 could not encode the {what} as PNG')
    return buf.tobytes()


def show_episode_result(query: ImageLike,
                        supports: Union[ImageLike, Sequence[ImageLike]],
                        support_masks: Union[ImageLike, Sequence[ImageLike]],
                        result: SegDataSample,
                        opacity: float = 0.5,
                        title: str = '',
                        out_file: Optional[Union[str, os.PathLike]] = None,
                        show: bool = False) -> np.ndarray:
    """One picture of an episode: each support with its mask (blue), then
    the query with the prediction (red).

    Args:
        query: the query image (path, array or PIL image).
        supports: the K support images.
        support_masks: their masks (nonzero = foreground).
        result (SegDataSample): the output of :func:`inference_episode` for
            this query (``pred_sem_seg`` at the query's size).
        opacity (float): Opacity of the overlays. Defaults to 0.5.
        title (str): Text above the picture. Defaults to ''.
        out_file (str | os.PathLike, optional): Write the picture there as
            PNG (atomically). Defaults to None.
        show (bool): Show it in a matplotlib window. Defaults to False.

    Returns:
        np.ndarray: the picture, (H', W', 3) uint8 RGB.
    """
    query_img = to_rgb(query, 'query')
    imgs, masks = load_support_set(supports, support_masks)
    pred = result.pred_sem_seg.data.cpu().numpy()[0]
    if pred.shape != query_img.shape[:2]:
        raise ValueError(f'the prediction is {pred.shape[1]}x{pred.shape[0]}'
                         f' (WxH) but the query is {query_img.shape[1]}x'
                         f'{query_img.shape[0]}: pass the result of this '
                         f'query')
    canvas = draw_episode(
        query_img,
        imgs,
        masks,
        pred_mask=pred.astype(np.uint8),
        title=title,
        opacity=opacity)
    if out_file is not None:
        atomic_write_bytes(out_file, encode_png(canvas, 'episode picture'))
    if show:
        import matplotlib.pyplot as plt
        plt.figure(figsize=(canvas.shape[1] / 100, canvas.shape[0] / 100))
        plt.imshow(canvas)
        plt.axis('off')
        plt.show()
    return canvas
