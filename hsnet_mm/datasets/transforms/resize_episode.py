# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Resize every image and mask of an episode as the official HSNet does."""
from typing import Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from PIL import Image

from ...utils.cli import UserError

#: Pixels of one band of rows in :func:`resize_image_pil`'s first pass.
BAND_PIXELS = 4 * 2**20


def resize_image_pil(img: np.ndarray, size_hw: Tuple[int, int]) -> np.ndarray:
    """Pillow bilinear resize (antialiased when shrinking).

    This is what torchvision's ``Resize`` does to a PIL image, the official
    image transform; cv2/mmcv bilinear gives other pixels.

    Pillow resamples in two passes, along the rows then along the columns,
    rounding to uint8 in between. A large image is resized the same way
    here with the first pass done in bands of rows, so that no Pillow copy
    of the whole image (4 bytes a pixel: 576 MB at 12000 x 12000) is made;
    the pixels are Pillow's, bit for bit.

    Args:
        img (np.ndarray): (H, W, 3) uint8.
        size_hw (tuple[int, int]): Output (H, W).

    Returns:
        np.ndarray: (H', W', 3) uint8.
    """
    h, w = size_hw
    if img.shape[:2] == (h, w):
        return img
    rows = max(1, BAND_PIXELS // max(1, img.shape[1]))
    if img.shape[0] <= rows or img.shape[1] == w:
        return np.array(Image.fromarray(img).resize((w, h), Image.BILINEAR))
    along_rows = np.empty((img.shape[0], w, 3), np.uint8)
    for y in range(0, img.shape[0], rows):
        band = Image.fromarray(img[y:y + rows])
        along_rows[y:y + rows] = band.resize((w, band.height), Image.BILINEAR)
    if img.shape[0] == h:
        return along_rows
    return np.array(Image.fromarray(along_rows).resize((w, h), Image.BILINEAR))


def nearest_indices(in_size: int, out_size: int) -> np.ndarray:
    """Source indices of torch's legacy ``nearest`` mode.

    ``src = min(floor(dst * (in / out)), in - 1)`` with the scale and product
    in float32, as ``F.interpolate(mode='nearest')`` computes them.
    """
    scale = np.float32(in_size) / np.float32(out_size)
    src = np.floor(np.arange(out_size, dtype=np.float32) * scale)
    return np.minimum(src.astype(np.int64), in_size - 1)


def resize_mask_nearest(mask: np.ndarray, size_hw: Tuple[int,
                                                         int]) -> np.ndarray:
    """Resize a label map with torch's legacy nearest rule.

    Args:
        mask (np.ndarray): (H, W) array.
        size_hw (tuple[int, int]): Output (H, W).

    Returns:
        np.ndarray: (H', W') array of the same dtype.
    """
    h, w = size_hw
    if mask.shape[:2] == (h, w):
        return mask
    rows = nearest_indices(mask.shape[0], h)
    cols = nearest_indices(mask.shape[1], w)
    return mask[rows[:, None], cols[None, :]]


@TRANSFORMS.register_module()
class ResizeEpisode(BaseTransform):
    """Resize the query, supports and masks to one size.

    Images use Pillow bilinear (official: torchvision ``Resize`` on PIL),
    masks torch's legacy nearest rule (official: ``F.interpolate(mode=
    'nearest')``; cv2 and Pillow nearest differ from it).

    Required keys: ``query_img``, ``support_imgs``, ``support_masks``;
    optional ``query_mask``. Modified keys: the same; ``img_shape`` becomes
    (H, W); ``ori_shape`` is set if missing.

    Args:
        scale (int | tuple[int, int]): Output size as (w, h), the mmcv
            convention; an int is square. Defaults to (400, 400).
        keep_query_gt_original (bool): Leave ``query_mask`` at the original
            query size (the official ``use_original_imgsize`` protocol).
            Defaults to False.
    """

    def __init__(self,
                 scale: Union[int, Tuple[int, int]] = (400, 400),
                 keep_query_gt_original: bool = False) -> None:
        if isinstance(scale, int):
            scale = (scale, scale)
        if len(scale) != 2 or min(scale) < 1:
            raise UserError(f'scale must be (w, h) of positive ints, got '
                            f'{scale}')
        self.scale = (int(scale[0]), int(scale[1]))
        self.keep_query_gt_original = keep_query_gt_original

    def transform(self, results: dict) -> dict:
        """Resize every array of the episode."""
        size = (self.scale[1], self.scale[0])
        results.setdefault('ori_shape', results['query_img'].shape[:2])
        results['query_img'] = resize_image_pil(results['query_img'], size)
        if 'query_mask' in results and not self.keep_query_gt_original:
            results['query_mask'] = resize_mask_nearest(
                results['query_mask'], size)
        results['support_imgs'] = [
            resize_image_pil(img, size) for img in results['support_imgs']
        ]
        results['support_masks'] = [
            resize_mask_nearest(m, size) for m in results['support_masks']
        ]
        results['img_shape'] = size
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(scale={self.scale}, '
                f'keep_query_gt_original={self.keep_query_gt_original})')
