# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The pixel limit of the images given to the inference API and demos.

A prediction at the original size takes 8 bytes a pixel (``pred_sem_seg``
is int64, the mmseg contract) and decoding an image about 7 (Pillow's 4
plus the 3 of the array), so the memory of an inference grows with the
query's pixel count (``docs/inference.md``, "Memory"). Images of more
than :func:`max_pixels_in_effect` pixels are refused with a
:class:`~hsnet_mm.utils.cli.UserError` read from the file's header, before
anything is decoded. The limit is, first found:

1. the ``max_pixels`` argument (``inference_episode``,
   ``FewShotInferencer``, ``to_rgb``/``to_mask``; ``--max-pixels`` of
   ``demo/image_demo.py``);
2. the environment variable :data:`MAX_PIXELS_ENV` (``HSNET_MAX_PIXELS``);
3. :data:`MAX_PIXELS`.

``0`` means no limit. Pillow's own decompression-bomb check (a warning
over 89 megapixels, an error over 179) is set aside while a header is read
(:func:`open_lazily`): this limit replaces it, so that both never disagree.
"""
import os
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

from PIL import Image

from ..utils.cli import UserError

#: Default limit: 150 megapixels (a 12000 x 12000 query peaks under 2 GB).
MAX_PIXELS = 150_000_000
#: Environment variable that overrides :data:`MAX_PIXELS` (the web demo).
MAX_PIXELS_ENV = 'HSNET_MAX_PIXELS'

_PIL_BOMB_LOCK = threading.Lock()


def _parse(value, what: str) -> int:
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = -1
    if limit < 0 or isinstance(value, bool):
        raise UserError(f'{what} must be a pixel count >= 0 (0: no limit), '
                        f'got {value!r}')
    return limit


def max_pixels_in_effect(max_pixels: Optional[int] = None) -> int:
    """The pixel limit: ``max_pixels``, else ``$HSNET_MAX_PIXELS``, else
    :data:`MAX_PIXELS`; 0 is no limit.

    Raises:
        UserError: a negative or non-integer limit (the source named).
    """
    if max_pixels is not None:
        return _parse(max_pixels, 'max_pixels')
    env = os.environ.get(MAX_PIXELS_ENV, '').strip()
    if env:
        return _parse(env, f'the environment variable {MAX_PIXELS_ENV}')
    return MAX_PIXELS


def check_pixels(width: int,
                 height: int,
                 name: str,
                 max_pixels: Optional[int] = None) -> None:
    """Refuse a ``width`` x ``height`` image over the pixel limit.

    Args:
        width (int): The image's width.
        height (int): Its height.
        name (str): How the message names it, e.g. ``'query (a.png)'``.
        max_pixels (int, optional): See :func:`max_pixels_in_effect`.

    Raises:
        UserError: the image has more pixels than the limit.
    """
    limit = max_pixels_in_effect(max_pixels)
    if limit and width * height > limit:
        raise UserError(
            f'{name} is {width}x{height} (WxH), {width * height / 1e6:g} '
            f'megapixels, over the limit of {limit / 1e6:g} megapixels '
            f'({limit} pixels; the memory of an inference grows by about '
            f'15 bytes a pixel): downscale the image, or raise the limit '
            f'with max_pixels= (API), --max-pixels (demo/image_demo.py) or '
            f'the environment variable {MAX_PIXELS_ENV} (0: no limit)')


@contextmanager
def pil_bomb_check_off() -> Iterator[None]:
    """Pillow's decompression-bomb check off (under a lock, restored), for
    an ``Image.open`` or ``crop`` whose size this module checks."""
    with _PIL_BOMB_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def open_lazily(path: str,
                arg: str,
                max_pixels: Optional[int] = None) -> Image.Image:
    """Open an image file, read its header only and check its size.

    Args:
        path (str): An existing file.
        arg (str): How messages name it, e.g. ``'supports[0]'``.
        max_pixels (int, optional): See :func:`max_pixels_in_effect`.

    Returns:
        PIL.Image.Image: Not decoded yet (``load()`` decodes it); close it.

    Raises:
        OSError: not an image Pillow reads.
        UserError: over the pixel limit.
    """
    limit = max_pixels_in_effect(max_pixels)  # a bad limit before the file
    try:
        with pil_bomb_check_off():
            img = Image.open(path)
    except Exception as e:
        raise OSError(f'{arg}: cannot read image file {path} (corrupt or '
                      f'not an image): {e}') from e
    try:
        check_pixels(img.size[0], img.size[1], f'{arg} ({path})', limit)
    except UserError:
        img.close()
        raise
    return img
