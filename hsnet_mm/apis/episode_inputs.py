# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Turn a user's images and masks into the arrays an episode is made of.

Images become (H, W, 3) uint8 RGB, masks (H, W) uint8 0/1, from a file path,
a numpy array or a PIL image. Conversions where the meaning is clear:

- images: grayscale (``L``, ``1``, (H, W) or (H, W, 1) arrays) is repeated
  to RGB; RGBA / LA drop their alpha; palette images take their colours;
  16-bit images (``I;16``, uint16 arrays) are scaled by 255 / 65535.
  Float arrays are refused (0-1 or 0-255 cannot be told apart).
- masks: any nonzero value is foreground, in every channel; where an alpha
  channel exists (RGBA, LA), transparent pixels are background, so a mask
  painted on a transparent layer works. Palette masks use their indices.

Every error names the argument (``supports[1]``) and the file, if any.
"""
import os
import os.path as osp
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

from ..datasets.transforms.load_episode import pil_to_array
from .pixel_limit import check_pixels, open_lazily, pil_bomb_check_off

ImageLike = Union[str, os.PathLike, np.ndarray, Image.Image]


def describe(src: Any, arg: str) -> str:
    """``arg`` with the file name when ``src`` is a path."""
    if isinstance(src, (str, os.PathLike)):
        return f'{arg} ({os.fspath(src)})'
    return arg


def _pil_array(img: Image.Image) -> np.ndarray:
    """:func:`pil_to_array` of an image whose size the pixel limit has
    checked (Pillow's decompression-bomb check off)."""
    with pil_bomb_check_off():
        return pil_to_array(img)


def _open(src: Any,
          arg: str,
          max_pixels: Optional[int],
          convert: Callable[[Image.Image], Any],
          decode: bool = True) -> Any:
    """``convert`` of a file decoded by Pillow (the decoded image freed
    after), or an array / PIL image (converted) passed on; the size is
    checked against the pixel limit first (a file's from its header)."""
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        if not osp.exists(path):
            raise FileNotFoundError(f'{arg}: file {path} does not exist')
        if not osp.isfile(path):
            raise OSError(f'{arg}: {path} is not a file')
        with open_lazily(path, arg, max_pixels) as img:
            if not decode:
                return None
            try:
                img.load()
            except Exception as e:
                raise OSError(f'{arg}: cannot read image file {path} '
                              f'(corrupt or not an image): {e}') from e
            return convert(img)
    if isinstance(src, Image.Image):
        check_pixels(src.size[0], src.size[1], arg, max_pixels)
        return convert(src)
    if isinstance(src, np.ndarray):
        if src.ndim >= 2:
            check_pixels(src.shape[1], src.shape[0], arg, max_pixels)
        return src
    raise TypeError(f'{arg} must be a file path, a numpy array or a PIL '
                    f'image, got {type(src).__name__}')


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """Pixels of a PIL image, palette expanded, 16/32-bit kept as ints."""
    if img.mode == 'P':
        img = img.convert('RGBA' if 'transparency' in img.info else 'RGB')
    elif img.mode in ('CMYK', 'YCbCr', 'LAB', 'HSV'):
        img = img.convert('RGB')
    elif img.mode == '1':
        img = img.convert('L')
    elif img.mode == 'PA':
        img = img.convert('RGBA')
    arr = _pil_array(img)
    if img.mode.startswith('I;16'):
        arr = arr.astype(np.uint16)
    return arr


def to_rgb(src: ImageLike,
           arg: str,
           max_pixels: Optional[int] = None) -> np.ndarray:
    """Read or convert an image to (H, W, 3) uint8 RGB.

    Args:
        src (str | os.PathLike | np.ndarray | PIL.Image.Image): The image.
        arg (str): Its name in error messages, e.g. ``'supports[0]'``.
        max_pixels (int, optional): The pixel limit
            (:mod:`~hsnet_mm.apis.pixel_limit`). Defaults to None:
            ``$HSNET_MAX_PIXELS``, else ``MAX_PIXELS``.

    Returns:
        np.ndarray: (H, W, 3) uint8.

    Raises:
        UserError: over the pixel limit (a file's size is read from its
            header, before decoding).
    """
    name = describe(src, arg)
    arr = _open(src, arg, max_pixels, _pil_to_array)
    if arr.dtype == np.uint16 or (arr.dtype.kind in 'iu'
                                  and arr.dtype.itemsize > 1 and arr.size
                                  and arr.max() > 255):
        if arr.min() < 0 or arr.max() > 65535:
            raise ValueError(f'{name}: integer pixel values must be in '
                             f'0..65535, found {arr.min()}..{arr.max()}')
        arr = np.round(arr.astype(np.float64) * 255 / 65535)
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif arr.dtype.kind == 'f':
        raise ValueError(f'{name}: float images are ambiguous (0-1 or '
                         f'0-255?); give uint8 (H, W, 3) RGB')
    elif arr.dtype.kind not in 'iu':
        raise ValueError(f'{name}: unsupported pixel type {arr.dtype}')
    elif arr.size and (arr.min() < 0):
        raise ValueError(f'{name}: negative pixel values')
    arr = arr.astype(np.uint8, copy=False)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 2:  # gray + alpha
        arr = np.repeat(arr[..., :1], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:  # RGBA: drop alpha
        arr = arr[..., :3]
    if arr.ndim != 3 or arr.shape[2] != 3 or min(arr.shape[:2]) < 1:
        raise ValueError(f'{name}: an image must be (H, W), (H, W, 1), '
                         f'(H, W, 3) or (H, W, 4), got shape {arr.shape}')
    return np.ascontiguousarray(arr)


def _pil_mask_array(mask: Image.Image) -> np.ndarray:
    """The values of a PIL mask: palette indices (without transparency),
    else the pixels (palette colours, RGBA/L for odd modes)."""
    if mask.mode in ('P', 'PA', '1', 'CMYK',
                     'YCbCr') and not (mask.mode == 'P'
                                       and 'transparency' not in mask.info):
        mask = mask.convert('RGBA' if mask.mode[0] == 'P' else 'L')
    return _pil_array(mask)


def to_mask(src: ImageLike,
            arg: str,
            max_pixels: Optional[int] = None) -> np.ndarray:
    """Read or convert a mask to (H, W) uint8 0/1 (nonzero = foreground).

    Args:
        src (str | os.PathLike | np.ndarray | PIL.Image.Image): The mask.
        arg (str): Its name in error messages, e.g. ``'support_masks[0]'``.
        max_pixels (int, optional): The pixel limit, as :func:`to_rgb`.

    Returns:
        np.ndarray: (H, W) uint8 of 0/1.
    """
    name = describe(src, arg)
    arr = np.asarray(_open(src, arg, max_pixels, _pil_mask_array))
    if arr.dtype.kind not in 'biuf':  # strings, objects: not a mask
        raise ValueError(f'{name}: a mask holds numbers (or bools), got '
                         f'{arr.dtype} values')
    if arr.ndim == 3 and arr.shape[2] in (2, 4):  # alpha: transparent = bg
        arr = arr[..., :-1].any(axis=2) & (arr[..., -1] > 0)
    elif arr.ndim == 3 and arr.shape[2] in (1, 3):
        arr = arr.any(axis=2)
    if arr.ndim != 2 or min(arr.shape) < 1:
        raise ValueError(f'{name}: a mask must be (H, W), (H, W, 1), '
                         f'(H, W, 3) or (H, W, 4), got shape {arr.shape}')
    if arr.dtype.kind == 'f' and not np.isfinite(arr).all():
        raise ValueError(f'{name}: the mask holds NaN or infinity')
    return (arr != 0).astype(np.uint8)


def check_image(src: ImageLike,
                arg: str,
                max_pixels: Optional[int] = None) -> None:
    """Check an image without decoding it: a file exists and its header
    reads; its size (or an array's, a PIL image's) is within the pixel
    limit. Arguments as :func:`to_rgb`.

    Raises:
        FileNotFoundError, OSError: a missing or unreadable file.
        UserError: over the pixel limit.
        TypeError: not a path, an array or a PIL image.
    """
    _open(src, arg, max_pixels, lambda img: img, decode=False)


def _size(arr: np.ndarray) -> str:
    return f'{arr.shape[1]}x{arr.shape[0]} (WxH)'


def load_support_set(
    supports: Union[ImageLike, Sequence[ImageLike]],
    support_masks: Union[ImageLike, Sequence[ImageLike]],
    max_pixels: Optional[int] = None
) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Read and check K support images and their masks.

    Args:
        supports: K images (a single one is K = 1).
        support_masks: K masks, in the same order.
        max_pixels (int, optional): The pixel limit, as :func:`to_rgb`.

    Returns:
        tuple[list, list]: K (Hk, Wk, 3) uint8 images and K (Hk, Wk) uint8
        0/1 masks.

    Raises:
        ValueError: no supports, counts differ, a mask's size differs from
            its image, or a mask has no foreground (the shot is named).
    """
    supports = as_list(supports)
    support_masks = as_list(support_masks)
    if not supports:
        raise ValueError('supports: give at least one support image')
    if len(supports) != len(support_masks):
        raise ValueError(f'got {len(supports)} support image(s) but '
                         f'{len(support_masks)} support mask(s); give one '
                         f'mask per support image')
    imgs, masks = [], []
    for k, (src, msrc) in enumerate(zip(supports, support_masks)):
        img = to_rgb(src, f'supports[{k}]', max_pixels)
        mask = to_mask(msrc, f'support_masks[{k}]', max_pixels)
        if mask.shape != img.shape[:2]:
            raise ValueError(
                f'shot {k}: {describe(msrc, f"support_masks[{k}]")} is '
                f'{_size(mask)} but {describe(src, f"supports[{k}]")} is '
                f'{_size(img)}; a mask must have its image\'s size')
        if not mask.any():
            raise ValueError(
                f'shot {k}: {describe(msrc, f"support_masks[{k}]")} has no '
                f'foreground (every pixel is 0); mark the object with '
                f'nonzero pixels')
        imgs.append(img)
        masks.append(mask)
    return imgs, masks


def as_list(x: Any) -> list:
    """``x`` as a list: lists and tuples stay, anything else is wrapped."""
    return list(x) if isinstance(x, (list, tuple)) else [x]


def query_name(src: Any, index: int, prefix: Optional[str] = None) -> str:
    """A file stem for the outputs of query ``index``."""
    if isinstance(src, (str, os.PathLike)):
        return osp.splitext(osp.basename(os.fspath(src)))[0]
    return f'{prefix or ""}{index:08d}'
