# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The web demo's episode logic, without Gradio.

Uploads are checked to be images (by their header, nothing decoded) and are
decoded by :func:`hsnet_mm.apis.episode_inputs.to_rgb` / ``to_mask`` only,
so the API's limits apply. Messages name the slot (``support 2``, numbered
from 1 as in the UI), never a server path. What is kept for display is a
copy of at most :data:`DISPLAY_MAX_PIXELS` pixels.
"""
import math
import os
import re
from typing import (Any, BinaryIO, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import cv2
import numpy as np
import torch
from PIL import Image

from hsnet_mm.apis.episode_inputs import load_support_set, to_mask, to_rgb
from hsnet_mm.apis.inference_episode import iter_loaded_episodes
from hsnet_mm.apis.pixel_limit import check_pixels
from hsnet_mm.utils import UserError
from hsnet_mm.visualization.episode_drawer import (PRED_COLOR, SUPPORT_COLOR,
                                                   overlay_mask)

MAX_SHOTS = 5
#: Image formats accepted from the browser (identified by their header).
IMAGE_FORMATS = ('PNG', 'JPEG', 'BMP', 'GIF', 'TIFF', 'WEBP')
DISPLAY_MAX_PIXELS = 4_000_000  # the prediction shown (and kept) at most
VOTE_MAX_PIXELS = 250_000  # each per-shot vote
#: The paint of a mask put into a support editor (RGBA; the image shows
#: through; any alpha > 0 is the object).
LAYER_COLOR = (255, 0, 0, 128)


def _scrubbed(err: Exception, path: str, name: str) -> UserError:
    """``err`` as a UserError whose message names ``name``, not ``path``."""
    msg = str(err).replace(f'{name} ({path})', name).replace(path, name)
    return UserError(msg if msg.startswith(name) else f'{name}: {msg}')


def check_image_file(src: Union[str, BinaryIO], name: str) -> Any:
    """Refuse a file that is not an image of :data:`IMAGE_FORMATS` or is
    over the pixel limit (:mod:`hsnet_mm.apis.pixel_limit`).

    Only the header is read (Pillow identifies the format from its magic
    bytes); no pixel is decoded.

    Args:
        src (str | file): The uploaded file (a server path, never shown).
        name (str): Its slot in messages, e.g. ``'support 2'``.

    Returns:
        ``src``.

    Raises:
        UserError: not an image of an accepted format, or too large.
    """
    try:
        with Image.open(src, formats=IMAGE_FORMATS) as img:
            width, height = img.size
    except Image.DecompressionBombError as e:
        raise UserError(f'{name}: {e}') from e
    except (OSError, SyntaxError, ValueError) as e:
        raise UserError(f'{name}: the file is not an image (expected '
                        f'{", ".join(IMAGE_FORMATS)})') from e
    check_pixels(width, height, name)
    return src


def _read_upload(path: str, name: str, decode) -> np.ndarray:
    """Check an uploaded file's header, then decode it with ``decode``
    (``to_rgb`` or ``to_mask``: their limits), messages without the
    server path."""
    check_image_file(path, name)
    try:
        return decode(path, name)
    except (OSError, ValueError) as e:
        raise _scrubbed(e, path, name) from e


def read_image(path: str, name: str) -> np.ndarray:
    """Check and decode an uploaded image with ``to_rgb`` (its limits)."""
    return _read_upload(path, name, to_rgb)


def read_mask(path: str, name: str) -> np.ndarray:
    """Check and decode an uploaded mask with ``to_mask`` (its limits)."""
    return _read_upload(path, name, to_mask)


def painted_mask(editor: Optional[dict]) -> Optional[np.ndarray]:
    """Union of the painted layers of an ImageEditor value, (H, W) 0/1.

    Returns None when nothing is painted.
    """
    if not editor:
        return None
    layers = [np.asarray(x) for x in editor.get('layers') or []]
    masks = [x[..., 3] > 0 for x in layers if x.ndim == 3 and x.shape[2] == 4]
    if not masks or not any(m.any() for m in masks):
        return None
    return np.logical_or.reduce(masks).astype(np.uint8)


def fit(mask: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Nearest-resize a mask to ``shape`` (H, W) if it differs (any dtype;
    only the output is allocated)."""
    h, w = shape
    if mask.shape == (h, w):
        return mask
    rows = ((np.arange(h) + 0.5) * mask.shape[0] / h).astype(np.int64)
    cols = ((np.arange(w) + 0.5) * mask.shape[1] / w).astype(np.int64)
    return mask[rows[:, None], cols[None, :]]


def _size(shape: Sequence[int]) -> str:
    return f'{shape[1]}x{shape[0]}'


def collect_supports(editors: Sequence[Optional[dict]],
                     masks: Sequence) -> Tuple[List, List, List[int]]:
    """The filled support slots: (images, masks, slot indices).

    A slot with an image needs an uploaded mask (a file path, or an array)
    or painted strokes; an uploaded mask wins over strokes and must have
    the image's size; a mask must mark some pixels. A mask without an
    image is refused.

    Raises:
        UserError: naming the slot (``support 2``).
    """
    imgs, out_masks, slots = [], [], []
    for k, (editor, mask) in enumerate(zip(editors, masks)):
        name = f'support {k + 1}'
        background = (editor or {}).get('background')
        if background is None:
            if mask is not None:
                raise UserError(f'{name}: a mask but no image; upload the '
                                f'image in its editor')
            continue
        img = to_rgb(background, name)
        if mask is None:
            mask = painted_mask(editor)
            if mask is None:
                raise UserError(f'{name}: no mask; upload one or paint over '
                                f'the object')
            mask = fit(mask, img.shape[:2])
        else:
            mask = (
                read_mask(mask, f'mask {k + 1}') if isinstance(
                    mask,
                    (str, os.PathLike)) else to_mask(mask, f'mask {k + 1}'))
            if mask.shape != img.shape[:2]:
                raise UserError(f'{name}: the mask is {_size(mask.shape)} '
                                f'but the image {_size(img.shape)}; upload '
                                f'a mask of the image\'s size')
        if not mask.any():
            raise UserError(f'{name}: the mask is empty; mark the object')
        imgs.append(img)
        out_masks.append(mask)
        slots.append(k)
    if not imgs:
        raise UserError('add at least one support image with its mask')
    return imgs, out_masks, slots


def display_size(shape: Sequence[int], max_pixels: int) -> Tuple[int, int]:
    """(H, W) scaled down to at most ``max_pixels``, aspect kept."""
    h, w = int(shape[0]), int(shape[1])
    if h * w <= max_pixels:
        return h, w
    scale = math.sqrt(max_pixels / (h * w))
    return max(1, int(h * scale)), max(1, int(w * scale))


def shrink(img: np.ndarray, max_pixels: int) -> np.ndarray:
    """A copy of at most ``max_pixels`` (area for images, nearest for
    masks); ``img`` itself when small enough."""
    h, w = display_size(img.shape, max_pixels)
    if (h, w) == img.shape[:2]:
        return img
    interp = cv2.INTER_AREA if img.ndim == 3 else cv2.INTER_NEAREST
    return cv2.resize(img, (w, h), interpolation=interp)


def _shot_names(err: Exception, slots: Sequence[int]) -> str:
    """An API message with its 0-based shot indices as UI slot names."""

    def slot(m: 're.Match') -> str:
        k = int(m.group(1))
        return f'support {slots[k] + 1}' if k < len(slots) else m.group(0)

    msg = re.sub(r'shot (\d+)', slot, str(err))
    return re.sub(r'support(?:_mask)?s\[(\d+)\]', slot, msg)


def _hand_over(box: list) -> Iterator[np.ndarray]:
    """Yield the array in ``box``, keeping no reference to it."""
    yield box.pop()


def segment(model, query, editors: Sequence, masks: Sequence,
            opacity: float) -> Tuple[np.ndarray, list, str, Dict]:
    """Run one episode for the UI.

    Args:
        model: The segmentor.
        query: The query: an uploaded file path or an array.
        editors (Sequence): The support editors' values.
        masks (Sequence): The uploaded masks (paths, arrays or None).
        opacity (float): Opacity of the overlays.

    Returns:
        tuple: the prediction over the query (a display copy), the per-shot
        votes as (image, caption) pairs, a one-line summary, and the
        display copies ``dict(image=, pred=)`` for "add as support".
    """
    if query is None:
        raise UserError('upload a query image')
    query_img = (
        read_image(query, 'query')
        if isinstance(query, (str, os.PathLike)) else to_rgb(query, 'query'))
    imgs, support_masks, slots = collect_supports(editors, masks)
    image = shrink(query_img, DISPLAY_MAX_PIXELS)  # the display copy first
    box = [query_img]
    del query_img  # the pipeline drops the original once it is resized
    try:
        imgs, support_masks = load_support_set(imgs, support_masks)
        result = next(
            iter_loaded_episodes(model, _hand_over(box), imgs, support_masks))
    except ValueError as e:
        raise UserError(_shot_names(e, slots)) from e
    # full-size outputs are read in place: only display copies are made
    full = result.pred_sem_seg.data[0].cpu()
    share = 100 * int(torch.count_nonzero(full)) / max(full.numel(), 1)
    pred = (fit(full.numpy(), image.shape[:2]) != 0).astype(np.uint8)
    overlay = overlay_mask(image, pred, PRED_COLOR, opacity)
    shots = (result.shot_pred_sem_seg.data.cpu()
             if 'shot_pred_sem_seg' in result else [])  # (a segmentor may not)
    small = shrink(image, VOTE_MAX_PIXELS)
    votes = [(overlay_mask(small, (fit(shot.numpy(), small.shape[:2])
                                   != 0).astype(np.uint8), SUPPORT_COLOR,
                           opacity),
              f'support {slots[k] + 1}: {int(torch.count_nonzero(shot))} px')
             for k, shot in enumerate(shots)]
    summary = (f'{len(imgs)}-shot: {share:.1f}% of the query is the object '
               f'(supports {", ".join(str(k + 1) for k in slots)})')
    return overlay, votes, summary, dict(image=image, pred=pred)


def free_slot(editors: Sequence[Optional[dict]], choice: Optional[int]) -> int:
    """The slot that "add as support" fills: ``choice`` when given,
    else the first slot without an image.

    Raises:
        UserError: every slot holds an image and none was chosen.
    """
    if choice is not None:
        return int(choice)
    for k, editor in enumerate(editors):
        if (editor or {}).get('background') is None:
            return k
    raise UserError(f'all {len(editors)} support slots are full; choose a '
                    f'slot to replace')


def as_support(last: Optional[Dict]) -> dict:
    """An ImageEditor value: the last query with its prediction painted
    on a layer (the user may erase or paint more).

    Raises:
        UserError: no prediction yet, or an empty one.
    """
    if not last:
        raise UserError('segment a query first, then add it as a support')
    pred = last['pred']
    if not pred.any():
        raise UserError('the prediction is empty: a support needs a mask; '
                        'paint the object in a support slot instead')
    layer = np.zeros((*pred.shape, 4), np.uint8)
    layer[pred > 0] = LAYER_COLOR
    return dict(background=last["image"], layers=[layer], composite=None)
