# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Draw a predicted episode: supports with masks, query with prediction.

The few-shot counterpart of ``mmseg.apis.show_result_pyplot``. Pictures
are drawn with panels of at most ``PANEL_MAX_PIXELS`` pixels
(:func:`~hsnet_mm.visualization.draw_episode`); masks are written at full
size by :func:`encode_mask_png`, in bands.
"""
import os
import struct
import zlib
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import torch
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


#: Uncompressed bytes of a band of mask rows in :func:`encode_mask_png`.
MASK_BAND_BYTES = 8 * 2**20


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack('>I', len(data)) + kind + data +
            struct.pack('>I', zlib.crc32(kind + data)))


def encode_mask_png(mask: Union[torch.Tensor, np.ndarray]) -> bytes:
    """PNG bytes (8-bit grayscale, 0/255) of a mask, nonzero = 255.

    The rows are converted and compressed in bands of
    :data:`MASK_BAND_BYTES`: besides the compressed PNG, the memory does
    not grow with the mask (a 12000 x 12000 int64 prediction is never
    copied whole).

    Args:
        mask (Tensor | ndarray): (H, W) or (1, H, W), any device.

    Returns:
        bytes: The PNG file.
    """
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2 or min(mask.shape) < 1:
        raise ValueError(f'a mask must be (H, W), got shape '
                         f'{tuple(mask.shape)}')
    height, width = (int(s) for s in mask.shape)
    rows = max(1, MASK_BAND_BYTES // (width + 1))
    deflate = zlib.compressobj(6)
    idat = []
    for start in range(0, height, rows):
        band = mask[start:start + rows]
        if isinstance(band, torch.Tensor):
            band = band.detach().cpu().numpy()
        out = np.zeros((band.shape[0], width + 1), np.uint8)  # filter 0
        np.multiply(band != 0, 255, out=out[:, 1:], casting='unsafe')
        idat.append(deflate.compress(out.tobytes()))
    idat.append(deflate.flush())
    header = struct.pack('>IIBBBBB', width, height, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _png_chunk(b'IHDR', header) +
            _png_chunk(b'IDAT', b''.join(idat)) + _png_chunk(b'IEND', b''))


def show_episode_result(query: ImageLike,
                        supports: Union[ImageLike, Sequence[ImageLike]],
                        support_masks: Union[ImageLike, Sequence[ImageLike]],
                        result: SegDataSample,
                        opacity: float = 0.5,
                        title: str = '',
                        out_file: Optional[Union[str, os.PathLike]] = None,
                        show: bool = False,
                        max_pixels: Optional[int] = None) -> np.ndarray:
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
        max_pixels (int, optional): The pixel limit of the images
            (:mod:`~hsnet_mm.apis.pixel_limit`). Defaults to None.

    Returns:
        np.ndarray: the picture, (H', W', 3) uint8 RGB (each panel at most
        ``PANEL_MAX_PIXELS`` pixels).
    """
    query_img = to_rgb(query, 'query', max_pixels)
    imgs, masks = load_support_set(supports, support_masks, max_pixels)
    pred = result.pred_sem_seg.data[0]
    if pred.shape != query_img.shape[:2]:
        raise ValueError(f'the prediction is {pred.shape[1]}x{pred.shape[0]}'
                         f' (WxH) but the query is {query_img.shape[1]}x'
                         f'{query_img.shape[0]}: pass the result of this '
                         f'query')
    canvas = draw_episode(
        query_img, imgs, masks, pred_mask=pred, title=title, opacity=opacity)
    if out_file is not None:
        atomic_write_bytes(out_file, encode_png(canvas, 'episode picture'))
    if show:
        show_picture(canvas)
    return canvas


def show_picture(picture: np.ndarray) -> None:
    """Show an (H, W, 3) RGB picture in a matplotlib window."""
    import matplotlib.pyplot as plt
    plt.figure(figsize=(picture.shape[1] / 100, picture.shape[0] / 100))
    plt.imshow(picture)
    plt.axis('off')
    plt.show()
