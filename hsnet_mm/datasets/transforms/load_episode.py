# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Load the images and binary masks of one episode."""
import os.path as osp
from typing import Callable, Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from PIL import Image

from ...structures import IGNORE_INDEX
from ...utils.cli import UserError

WIDE_GRAY_MODES = ('I;16', 'I;16L', 'I;16B', 'I;16N', 'I')  # 16/32-bit gray


def _gray16_to_rgb(img: Image.Image) -> np.ndarray:
    """A 16-bit grayscale image scaled to 8 bit (``round(v / 257)``, so
    65535 -> 255) as (H, W, 3); Pillow's ``convert('RGB')`` clips instead,
    turning almost every pixel white."""
    gray = np.asarray(img).astype(np.float64) / 257.0
    gray = np.clip(np.rint(gray), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


#: Working memory of one band of rows in :func:`pil_to_array`.
BAND_BYTES = 16 * 2**20


def pil_to_array(img: Image.Image) -> np.ndarray:
    """``np.asarray(img)`` filled in bands of rows: Pillow's ``tobytes``
    would hold the whole image twice more (its chunks, then their join),
    1.9 GB more for a 12000 x 12000 RGB photo."""
    w, h = img.size
    first = np.asarray(img.crop((0, 0, w, 1)))
    out = np.empty((h, ) + first.shape[1:], first.dtype)
    rows = max(1, BAND_BYTES // max(1, first.nbytes))
    for y in range(0, h, rows):
        out[y:y + rows] = np.asarray(img.crop((0, y, w, min(h, y + rows))))
    return out


def read_rgb(path: str) -> np.ndarray:
    """Read an image with Pillow as (H, W, 3) uint8 RGB.

    16-bit grayscale images are scaled to 8 bit (see :func:`_gray16_to_rgb`).

    Raises:
        FileNotFoundError: the file is missing.
        OSError: the file cannot be decoded.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image file {path} does not exist')
    try:
        with Image.open(path) as img:
            if img.mode in WIDE_GRAY_MODES:
                return _gray16_to_rgb(img)
            if img.mode != 'RGB':  # (an RGB image is not copied)
                img = img.convert('RGB')
            return pil_to_array(img)
    except Exception as e:
        raise OSError(f'cannot read image {path}: {e}') from e


def read_label(path: str, mode: str) -> np.ndarray:
    """Read a mask PNG as (H, W) values.

    Args:
        path (str): The mask file.
        mode (str): 'index' keeps palette/grayscale values and refuses
            colour PNGs; 'threshold' and 'nonzero' convert to grayscale.

    Raises:
        FileNotFoundError: the file is missing.
        OSError: the file cannot be decoded.
        ValueError: an 'index' mask has colour channels.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'mask file {path} does not exist')
    try:
        with Image.open(path) as img:
            img_mode = img.mode
            if mode != 'index' and img.mode != 'L':
                img = img.convert('L')
            label = pil_to_array(img)  # (an L or P image is not copied)
    except Exception as e:
        raise OSError(f'cannot read mask {path}: {e}') from e
    if label.ndim != 2:
        raise UserError(f'mask {path} is a {img_mode} image; class masks '
                        f'must be palette or grayscale index PNGs (convert '
                        f'them with tools/dataset_converters)')
    return label


def binarize(label: np.ndarray, mode: str, value: Optional[int],
             ignore_index: Optional[int], keep_ignore: bool) -> np.ndarray:
    """1 on the episode class, 0 elsewhere, 255 on ignored pixels.

    Args:
        label (np.ndarray): (H, W) raw mask values.
        mode (str): 'index' (``label == value``), 'threshold' (``>= 128``,
            FSS-1000) or 'nonzero' (binary 0/1 or 0/255 masks).
        value (int, optional): Class value of 'index' masks.
        ignore_index (int, optional): Raw value of ignored pixels.
        keep_ignore (bool): Mark them 255 (else they are background).

    Returns:
        np.ndarray: (H, W) uint8 of 0/1/255.
    """
    if mode == 'index':
        mask = (label == value).astype(np.uint8)
    elif mode == 'threshold':
        mask = (label >= 128).astype(np.uint8)
    elif mode == 'nonzero':
        mask = (label > 0).astype(np.uint8)
    else:
        raise UserError(f'unknown mask_mode {mode!r}')
    if keep_ignore and ignore_index is not None and mode == 'index':
        mask[label == ignore_index] = IGNORE_INDEX
    return mask


@TRANSFORMS.register_module()
class LoadEpisode(BaseTransform):
    """Load the query, the K supports and their binary masks.

    Reads what :meth:`EpisodicDataset.get_data_info` describes. Images are
    read with Pillow as RGB; masks as index PNGs (value ``mask_value`` is the
    class, ``ignore_index`` is ignored), FSS grayscale (``>= 128``) or binary
    masks, following ``mask_mode``. When ``image_source`` is set (synthetic
    data) it is called as ``image_source(img_path) -> (img, label)`` instead
    of reading files.

    Required keys: ``img_path``, ``support_img_paths``,
    ``support_seg_map_paths``, ``mask_mode``, ``mask_value``; optional:
    ``seg_map_path`` (no query mask when None or absent),
    ``ignore_index``, ``query_keep_ignore`` (default True),
    ``image_source``.

    Added keys: ``query_img`` (H0, W0, 3) uint8; ``query_mask`` (H0, W0)
    uint8 0/1/255 (if a query mask is known); ``support_imgs`` and
    ``support_masks`` (lists of K arrays, support masks keep 255);
    ``ori_shape`` and ``img_shape`` = (H0, W0).
    """

    def _load(self, img_path: str, seg_path: Optional[str],
              results: dict) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        source: Optional[Callable] = results.get('image_source')
        mode = results.get('mask_mode', 'index')
        if source is not None:
            img, label = source(img_path)
            img = np.asarray(img, dtype=np.uint8)
            label = None if seg_path is None else np.asarray(label)
        else:
            img = read_rgb(img_path)
            label = None if seg_path is None else read_label(seg_path, mode)
        if label is not None and label.shape[:2] != img.shape[:2]:
            raise UserError(
                f'mask {seg_path} is {label.shape[1]}x{label.shape[0]} but '
                f'image {img_path} is {img.shape[1]}x{img.shape[0]} (WxH)')
        return img, label

    def _binarize(self, label: np.ndarray, results: dict,
                  keep_ignore: bool) -> np.ndarray:
        return binarize(label, results.get('mask_mode', 'index'),
                        results.get('mask_value'), results.get('ignore_index'),
                        keep_ignore)

    def transform(self, results: dict) -> dict:
        """Load the episode's arrays into ``results``."""
        img, label = self._load(results['img_path'],
                                results.get('seg_map_path'), results)
        results['query_img'] = img
        if label is not None:
            results['query_mask'] = self._binarize(
                label, results, results.get('query_keep_ignore', True))
        support_imgs, support_masks = [], []
        for img_path, seg_path in zip(results['support_img_paths'],
                                      results['support_seg_map_paths']):
            s_img, s_label = self._load(img_path, seg_path, results)
            support_imgs.append(s_img)
            support_masks.append(self._binarize(s_label, results, True))
        results['support_imgs'] = support_imgs
        results['support_masks'] = support_masks
        results['ori_shape'] = img.shape[:2]
        results['img_shape'] = img.shape[:2]
        return results
