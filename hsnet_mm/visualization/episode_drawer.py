# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Draw a few-shot episode as one image: supports, prediction, ground truth.

The row reads left to right: each support image with its mask, then the
query with the prediction, then the query with the ground truth. Every panel
has the query's height and a label above it; masks are blended in a
semi-transparent colour and ignored pixels (255) in grey.

Panels are drawn at most :data:`PANEL_MAX_PIXELS` pixels each: a larger
image is shrunk first (area), its masks sampled (nearest) to it, so that a
12000 x 12000 query makes a picture of bounded size and memory.
"""
import os
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import torch

from ..structures import IGNORE_INDEX
from ..utils import atomic_write_bytes

#: Overlay colours (RGB) of the support masks, prediction and ground truth.
SUPPORT_COLOR = (0, 112, 255)
PRED_COLOR = (255, 48, 48)
GT_COLOR = (0, 200, 0)
IGNORE_COLOR = (128, 128, 128)
#: Opacity of every overlay.
ALPHA = 0.5
#: Height of the label strip above each panel, and the gap between panels.
LABEL_HEIGHT = 22
GAP = 4

#: Pixels of a panel at most; larger images are shrunk to fit.
PANEL_MAX_PIXELS = 2048 * 2048

Color = Tuple[int, int, int]


def panel_size(height: int,
               width: int,
               max_pixels: Optional[int] = None) -> Tuple[int, int]:
    """(h, w) of an image drawn in at most ``max_pixels`` (default
    :data:`PANEL_MAX_PIXELS`) pixels, aspect ratio kept (the size itself
    when it fits)."""
    max_pixels = max_pixels or PANEL_MAX_PIXELS
    if height * width <= max_pixels:
        return height, width
    scale = (max_pixels / (height * width))**0.5
    return (max(1, min(height, int(height * scale))),
            max(1, min(width, int(width * scale))))


def shrink_image(img: np.ndarray,
                 max_pixels: Optional[int] = None) -> np.ndarray:
    """``img`` shrunk (area) to :func:`panel_size`, or itself when it fits.
    """
    h, w = panel_size(img.shape[0], img.shape[1], max_pixels)
    if (h, w) == img.shape[:2]:
        return img
    return cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)


def sample_mask(mask, size: Tuple[int, int]) -> np.ndarray:
    """A mask (ndarray or tensor, (H, W) or (1, H, W)) sampled (nearest,
    pixel centres) to ``size`` (h, w); only the sampled pixels are read.
    """
    if isinstance(mask, torch.Tensor):
        mask = mask.detach()
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    h, w = size
    if tuple(mask.shape) != (h, w):
        rows = (np.arange(h) * 2 + 1) * mask.shape[0] // (2 * h)
        cols = (np.arange(w) * 2 + 1) * mask.shape[1] // (2 * w)
        if isinstance(mask, torch.Tensor):
            mask = mask[torch.as_tensor(
                rows,
                device=mask.device)][:,
                                     torch.as_tensor(cols, device=mask.device)]
        else:
            mask = np.asarray(mask)[rows][:, cols]
    if isinstance(mask, torch.Tensor):
        mask = mask.cpu().numpy()
    return np.asarray(mask)


def _check_image(img: np.ndarray, name: str) -> np.ndarray:
    """Check an (H, W, 3) uint8 image."""
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f'{name} must be an (H, W, 3) uint8 RGB array, got '
                         f'shape {img.shape} and dtype {img.dtype}')
    return img


def _check_mask(mask: np.ndarray, name: str) -> np.ndarray:
    """Check an (H, W) mask of 0/1/255, given as any integer or bool."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[0] == 1:
        mask = mask[0]
    if mask.ndim != 2:
        raise ValueError(f'{name} must be an (H, W) mask, got shape '
                         f'{mask.shape}')
    if not np.isin(mask, (0, 1, IGNORE_INDEX)).all():
        raise ValueError(f'{name} must hold only 0, 1 and 255, found '
                         f'{np.unique(mask)[:5].tolist()}')
    return mask.astype(np.uint8)


def overlay_mask(img: np.ndarray,
                 mask: np.ndarray,
                 color: Color,
                 alpha: float = ALPHA) -> np.ndarray:
    """Blend ``color`` where ``mask == 1`` and grey where ``mask == 255``.

    The mask is resized (nearest) to the image when their sizes differ.

    Args:
        img (ndarray): (H, W, 3) uint8 RGB image.
        mask (ndarray): (h, w) mask of 0/1/255.
        color (tuple[int, int, int]): RGB colour of the foreground.
        alpha (float): Opacity of the overlay. Defaults to 0.5.

    Returns:
        ndarray: (H, W, 3) uint8 RGB image.
    """
    h, w = img.shape[:2]
    if mask.shape != (h, w):
        mask = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)
    out = img.astype(np.float32)
    for value, col in ((1, color), (IGNORE_INDEX, IGNORE_COLOR)):
        sel = mask == value
        out[sel] = (1 - alpha) * out[sel] + alpha * np.float32(col)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _bounded_mask(mask, img: np.ndarray, max_pixels: int):
    """A mask (ndarray or tensor) as an ndarray; over ``max_pixels``,
    sampled to its (shrunk) image's size (smaller ones are left to
    :func:`overlay_mask`'s resize)."""
    if isinstance(mask, torch.Tensor):
        big = mask.numel() > max_pixels
    else:
        mask = np.asarray(mask)
        big = mask.size > max_pixels
    if big:
        return sample_mask(mask, img.shape[:2])
    return mask.cpu().numpy() if isinstance(mask, torch.Tensor) else mask


def _fit_height(img: np.ndarray, height: int) -> np.ndarray:
    """Resize ``img`` to ``height`` keeping its aspect ratio."""
    h, w = img.shape[:2]
    if h == height:
        return img
    width = max(1, round(w * height / h))
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_LINEAR)


def _put_label(panel: np.ndarray, label: str) -> np.ndarray:
    """Stack a white strip with ``label`` in black above ``panel``."""
    strip = np.full((LABEL_HEIGHT, panel.shape[1], 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    scale = 0.5
    (text_w, _), _ = cv2.getTextSize(label, font, scale, 1)
    if text_w > panel.shape[1] - 4:
        scale *= max(panel.shape[1] - 4, 1) / text_w
    cv2.putText(strip, label, (2, LABEL_HEIGHT - 7), font, scale, (0, 0, 0), 1,
                cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def draw_episode(query_img: np.ndarray,
                 support_imgs: Sequence[np.ndarray],
                 support_masks: Sequence[np.ndarray],
                 gt_mask: Optional[np.ndarray] = None,
                 pred_mask: Optional[np.ndarray] = None,
                 title: str = '',
                 opacity: float = ALPHA,
                 max_panel_pixels: Optional[int] = None) -> np.ndarray:
    """Draw one episode as a single row of labelled panels.

    Panels: ``support 1`` .. ``support K`` (mask in blue), ``prediction``
    (red, or the plain ``query`` when ``pred_mask`` is None) and
    ``ground truth`` (green, only when ``gt_mask`` is given). Masks may have
    another size than their image: they are resized (nearest) to it. An
    image over ``max_panel_pixels`` is shrunk first (:func:`shrink_image`).

    Args:
        query_img (ndarray): (H, W, 3) uint8 RGB query image.
        support_imgs (Sequence[ndarray]): K (Hs, Ws, 3) uint8 RGB images.
        support_masks (Sequence[ndarray]): K (h, w) masks of 0/1/255.
        gt_mask (ndarray, optional): (h, w) query ground truth.
            Defaults to None.
        pred_mask (ndarray, optional): (h, w) 0/1 prediction.
            Defaults to None.
        title (str): Text drawn above the row when not empty.
            Defaults to ''.
        opacity (float): Opacity of the mask overlays, in [0, 1].
            Defaults to :data:`ALPHA` (0.5).
        max_panel_pixels (int, optional): Pixels of a panel at most.
            Defaults to None (:data:`PANEL_MAX_PIXELS`).

    Returns:
        ndarray: (H + label strips, total width, 3) uint8 RGB image, H the
        query's (shrunk) height.
    """
    max_panel_pixels = max_panel_pixels or PANEL_MAX_PIXELS
    query_img = shrink_image(
        _check_image(query_img, 'query_img'), max_panel_pixels)
    if pred_mask is not None:
        pred_mask = _bounded_mask(pred_mask, query_img, max_panel_pixels)
    if gt_mask is not None:
        gt_mask = _bounded_mask(gt_mask, query_img, max_panel_pixels)
    if not 0 <= opacity <= 1:
        raise ValueError(f'opacity must be in [0, 1], got {opacity}')
    if len(support_imgs) != len(support_masks) or not support_imgs:
        raise ValueError(f'need as many support masks as support images '
                         f'(at least one), got {len(support_imgs)} images '
                         f'and {len(support_masks)} masks')
    height = query_img.shape[0]
    panels = []
    for k, (img, mask) in enumerate(zip(support_imgs, support_masks)):
        img = shrink_image(
            _check_image(img, f'support_imgs[{k}]'), max_panel_pixels)
        mask = _check_mask(
            _bounded_mask(mask, img, max_panel_pixels), f'support_masks[{k}]')
        panel = _fit_height(
            overlay_mask(img, mask, SUPPORT_COLOR, opacity), height)
        panels.append(_put_label(panel, f'support {k + 1}'))
    if pred_mask is None:
        panels.append(_put_label(query_img, 'query'))
    else:
        pred_mask = _check_mask(pred_mask, 'pred_mask')
        panels.append(
            _put_label(
                overlay_mask(query_img, pred_mask, PRED_COLOR, opacity),
                'prediction'))
    if gt_mask is not None:
        gt_mask = _check_mask(gt_mask, 'gt_mask')
        panels.append(
            _put_label(
                overlay_mask(query_img, gt_mask, GT_COLOR, opacity),
                'ground truth'))
    gap = np.full((panels[0].shape[0], GAP, 3), 255, np.uint8)
    row = [panels[0]]
    for panel in panels[1:]:
        row += [gap, panel]
    canvas = np.concatenate(row, axis=1)
    if title:
        canvas = _put_label(canvas, title)
    return canvas


def save_episode_png(path: Union[str, os.PathLike], **kwargs) -> str:
    """Draw an episode with :func:`draw_episode` and save it as PNG.

    The file is written atomically; parent folders are created.

    Args:
        path (str | os.PathLike): Destination ``.png`` file.
        **kwargs: Arguments of :func:`draw_episode`.

    Returns:
        str: The destination path.
    """
    canvas = draw_episode(**kwargs)
    ok, buf = cv2.imencode('.png', np.ascontiguousarray(canvas[..., ::-1]))
    if not ok:
        raise RuntimeError(f'cv2 could not encode the episode for {path}')
    return atomic_write_bytes(path, buf.tobytes())


def denormalize(img_tensor: Union[torch.Tensor, np.ndarray],
                mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Undo the data preprocessor's normalisation of one image.

    Args:
        img_tensor (Tensor | ndarray): (3, H, W) or (1, 3, H, W) normalised
            image, ``(x - mean) / std``.
        mean (Sequence[float]): Per-channel mean, 0-255 units, in the
            image's channel order (RGB for episodes).
        std (Sequence[float]): Per-channel std, 0-255 units.

    Returns:
        ndarray: (H, W, 3) uint8 image.
    """
    img = torch.as_tensor(img_tensor).detach().cpu().float()
    if img.dim() == 4 and img.shape[0] == 1:
        img = img[0]
    if img.dim() != 3 or img.shape[0] != 3:
        raise ValueError('denormalize expects a (3, H, W) image, got shape '
                         f'{tuple(img.shape)}')
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    img = (img * std_t + mean_t).round().clamp(0, 255)
    return img.permute(1, 2, 0).to(torch.uint8).numpy()
