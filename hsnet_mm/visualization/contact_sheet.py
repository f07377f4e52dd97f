# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Contact sheets: pages of small thumbnails with their masks and names,
to scan hundreds of predictions at a glance.

A thumbnail is made while an image is in memory (:func:`make_thumbnail`,
then :func:`overlay_thumbnail` with its mask), so that only thumbnails are
kept or stored; :func:`write_contact_sheets` lays them out in pages of a
bounded size (``cols`` x ``rows`` cells).
"""
import glob
import os
import os.path as osp
from typing import Iterable, Iterator, List, Tuple

import cv2
import numpy as np

from ..utils.fileio import atomic_write_bytes

#: Longest side of a thumbnail, in pixels.
THUMB_SIZE = 160
#: Height of the name strip under each thumbnail, in pixels.
LABEL_HEIGHT = 16
#: RGB colour of the mask overlay and of the names of empty predictions.
MASK_COLOR = (255, 40, 40)


def make_thumbnail(img: np.ndarray, size: int = THUMB_SIZE) -> np.ndarray:
    """Shrink an image so that its longer side is at most ``size``.

    Args:
        img (np.ndarray): (H, W, 3) uint8 RGB.
        size (int): The longest side. Defaults to :data:`THUMB_SIZE`.

    Returns:
        np.ndarray: (h, w, 3) uint8, the aspect ratio kept (at least 1 px).
    """
    h, w = img.shape[:2]
    scale = min(1.0, size / max(h, w))
    if scale == 1.0:
        return img.copy()
    shape = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, shape, interpolation=cv2.INTER_AREA)


def overlay_thumbnail(thumb: np.ndarray,
                      mask: np.ndarray,
                      opacity: float = 0.5) -> np.ndarray:
    """Tint a thumbnail where a (full-size) mask is foreground.

    Args:
        thumb (np.ndarray): (h, w, 3) uint8 RGB thumbnail.
        mask (np.ndarray): (H, W) mask of the original image, nonzero =
            foreground; resized (nearest) to the thumbnail.
        opacity (float): Of the tint. Defaults to 0.5.

    Returns:
        np.ndarray: a new (h, w, 3) uint8 thumbnail.
    """
    if mask.dtype != np.uint8:  # (a uint8 mask is resized as it is)
        mask = (mask != 0).astype(np.uint8)
    small = cv2.resize(
        mask, (thumb.shape[1], thumb.shape[0]),
        interpolation=cv2.INTER_NEAREST) != 0
    out = thumb.copy()
    color = np.array(MASK_COLOR, np.float32)
    out[small] = np.round(out[small] * (1 - opacity) + color * opacity).astype(
        np.uint8)
    return out


def _fit_text(text: str, width: int) -> str:
    """``text``, its start cut to fit ``width`` pixels in the font used."""
    chars = max(4, width // 6)
    return text if len(text) <= chars else '..' + text[-(chars - 2):]


def _page(cells: List[Tuple[str, np.ndarray, bool]], cols: int,
          cell: int) -> np.ndarray:
    rows = (len(cells) + cols - 1) // cols
    page = np.full((rows * (cell + LABEL_HEIGHT), cols * cell, 3),
                   255,
                   dtype=np.uint8)
    for i, (name, thumb, flagged) in enumerate(cells):
        thumb = make_thumbnail(thumb, cell - 4)
        y0 = (i // cols) * (cell + LABEL_HEIGHT)
        x0 = (i % cols) * cell
        th, tw = thumb.shape[:2]
        y, x = y0 + (cell - th) // 2, x0 + (cell - tw) // 2
        page[y:y + th, x:x + tw] = thumb
        color = MASK_COLOR if flagged else (0, 0, 0)
        cv2.putText(page, _fit_text(name, cell - 4),
                    (x0 + 2, y0 + cell + LABEL_HEIGHT - 5),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.33, color, 1, cv2.LINE_AA)
    return page


def contact_sheet_pages(items: Iterable[Tuple[str, np.ndarray, bool]],
                        cols: int = 8,
                        rows: int = 8,
                        cell: int = THUMB_SIZE) -> Iterator[np.ndarray]:
    """Lay thumbnails out in pages, made one at a time.

    Args:
        items (Iterable[tuple]): ``(name, thumbnail, flagged)``; a flagged
            item's name is drawn in the mask colour (e.g. an empty
            prediction).
        cols (int): Cells per row. Defaults to 8.
        rows (int): Rows per page. Defaults to 8.
        cell (int): Cell side in pixels (thumbnails are fitted in it).
            Defaults to :data:`THUMB_SIZE`.

    Yields:
        np.ndarray: pages, (rows' * (cell + 16), cols * cell, 3) uint8 RGB,
        at most ``rows`` rows each.
    """
    cells = []
    for item in items:
        cells.append(item)
        if len(cells) == cols * rows:
            yield _page(cells, cols, cell)
            cells = []
    if cells:
        yield _page(cells, cols, cell)


def write_contact_sheets(items: Iterable[Tuple[str, np.ndarray, bool]],
                         out_dir: str,
                         name: str = 'contact_sheet',
                         cols: int = 8,
                         rows: int = 8,
                         cell: int = THUMB_SIZE) -> List[str]:
    """Write the pages of :func:`contact_sheet_pages` as JPEG files.

    One page is ``<name>.jpg``; several are ``<name>_001.jpg``, ... The
    pages of an earlier call that this one does not rewrite are removed.

    Args:
        items (Iterable[tuple]): ``(name, thumbnail, flagged)``.
        out_dir (str): The folder.
        name (str): File stem. Defaults to ``'contact_sheet'``.
        cols, rows, cell (int): As :func:`contact_sheet_pages`.

    Returns:
        list[str]: the written files (none without items).
    """
    written = []
    for page in contact_sheet_pages(items, cols, rows, cell):
        ok, data = cv2.imencode('.jpg', cv2.cvtColor(page, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, 90])
        assert ok, 'cv2.imencode failed on a uint8 page'
        path = osp.join(out_dir, f'{name}_{len(written) + 1:03d}.jpg')
        written.append(atomic_write_bytes(path, data.tobytes()))
    if len(written) == 1:
        single = osp.join(out_dir, f'{name}.jpg')
        os.replace(written[0], single)
        written = [single]
    stale = glob.glob(osp.join(
        glob.escape(out_dir), f'{name}.jpg')) + glob.glob(
            osp.join(glob.escape(out_dir), f'{name}_[0-9][0-9][0-9].jpg'))
    for path in stale:
        if path not in written:
            os.remove(path)
    return written
