# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Annotation files of a labelled folder: PNG masks, LabelMe and COCO.

Every writer takes an (H, W) 0/1 mask at the image's size and writes one
file atomically (:mod:`hsnet_mm.utils.fileio`).

- **PNG**: 0/255 grayscale at the image's size.
- **LabelMe** (one JSON per image): ``cv2.findContours`` polygons. LabelMe
  polygons have no holes, so a hole in the object is a polygon of its own,
  labelled ``<label>_hole`` and sharing the ``group_id`` of the polygon
  around it (one group per object outline); it traces the hole's own
  pixels. Shapes come outermost first (objects, then their holes, then
  objects inside holes, ...): filling each polygon in file order, 1 for
  ``<label>`` and 0 for ``<label>_hole`` (``cv2.fillPoly``), gives the mask
  back. A contour of under three points (a pixel, a straight 1 px line)
  repeats its points to make the three LabelMe asks for.
- **COCO** (one JSON per run): built from per-image records
  (:func:`image_record`) that hold the mask as RLE; one category, one
  annotation per image with foreground (or, ``split_instances``, one per
  8-connected component), RLE via pycocotools with ``counts`` as str,
  ``iscrowd`` 0, ``area`` and ``bbox``.
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from ..utils.fileio import atomic_dump_json, atomic_write_bytes
from .show_result import encode_mask_png

#: The ``version`` field of the LabelMe files (LabelMe 5.x format).
LABELME_VERSION = '5.2.1'
#: Suffix of the label of a hole polygon in the LabelMe files.
HOLE_SUFFIX = '_hole'


def write_png_mask(path: str, mask: np.ndarray) -> str:
    """Write an (H, W) 0/1 mask as a 0/255 grayscale PNG, atomically.

    Args:
        path (str): Destination file.
        mask (np.ndarray): (H, W) array, nonzero = foreground.

    Returns:
        str: ``path``.
    """
    return atomic_write_bytes(path, encode_mask_png(mask))


def binary_mask(mask: np.ndarray, order: str = 'C') -> np.ndarray:
    """``(mask != 0)`` as one (H, W) uint8 0/1 array in ``order`` memory
    layout, without a bool temporary (at 12000 x 12000 each copy of a
    mask is 144 MB)."""
    out = np.empty(mask.shape, np.uint8, order=order)
    np.not_equal(mask, 0, out=out, casting='unsafe')
    return out


def mask_to_rle(mask: np.ndarray) -> dict:
    """COCO RLE of an (H, W) mask, ``counts`` as str (JSON-ready)."""
    rle = mask_utils.encode(binary_mask(mask, order='F'))
    return dict(
        size=[int(s) for s in rle['size']],
        counts=rle['counts'].decode('ascii'))


def rle_to_mask(rle: dict) -> np.ndarray:
    """The (H, W) uint8 0/1 mask of a :func:`mask_to_rle` RLE."""
    return mask_utils.decode(
        dict(size=rle['size'], counts=rle['counts'].encode('ascii')))


def _polygon(contour: np.ndarray) -> List[List[float]]:
    points = contour.reshape(-1, 2)
    if len(points) < 3:  # a pixel or a straight 1 px line: there and back
        points = np.concatenate([points] * 3)[:3]
    return [[float(x), float(y)] for x, y in points]


def _hole_contours(contour: np.ndarray, mask: np.ndarray) -> list:
    """Outlines of the background pixels inside a hole's contour (which
    runs on the object's pixels around the hole)."""
    x, y, w, h = cv2.boundingRect(contour)
    inside = np.zeros((h, w), np.uint8)
    cv2.fillPoly(inside, [contour - np.array([x, y])], 1)
    inside &= (mask[y:y + h, x:x + w] == 0).astype(np.uint8)
    found, _ = cv2.findContours(
        inside, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE, offset=(x, y))
    return list(found)


def labelme_shapes(mask: np.ndarray, label: str) -> List[dict]:
    """LabelMe polygon shapes of a mask (see the module docstring).

    Args:
        mask (np.ndarray): (H, W), nonzero = foreground.
        label (str): The label of the object polygons.

    Returns:
        list[dict]: shapes, outermost first; empty for an empty mask.
    """
    # (OpenCV >= 3.2 does not write to the image: a uint8 mask is used as is)
    binary = mask if mask.dtype == np.uint8 else binary_mask(mask)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE,
                                           cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return []
    parents = hierarchy[0][:, 3]
    depth = []
    for i in range(len(contours)):
        d, p = 0, parents[i]
        while p >= 0:
            d, p = d + 1, parents[p]
        depth.append(d)
    group, shapes, objects = {}, [], 0
    for i in sorted(range(len(contours)), key=lambda j: depth[j]):
        hole = depth[i] % 2 == 1
        if hole:
            group[i] = group[parents[i]]
        else:
            group[i], objects = objects, objects + 1
        outlines = (
            _hole_contours(contours[i], binary) if hole else [contours[i]])
        for outline in outlines:
            shapes.append(
                dict(
                    label=label + HOLE_SUFFIX if hole else label,
                    points=_polygon(outline),
                    group_id=int(group[i]),
                    description='',
                    shape_type='polygon',
                    flags={}))
    return shapes


def write_labelme(path: str, mask: np.ndarray, label: str,
                  image_path: str) -> str:
    """Write a LabelMe JSON of a mask, atomically.

    Args:
        path (str): Destination ``.json``.
        mask (np.ndarray): (H, W), nonzero = foreground, the image's size.
        label (str): The object label.
        image_path (str): The image; stored relative to the JSON's folder,
            as LabelMe does.

    Returns:
        str: ``path``.
    """
    rel = osp.relpath(osp.abspath(image_path), osp.dirname(osp.abspath(path)))
    doc = dict(
        version=LABELME_VERSION,
        flags={},
        shapes=labelme_shapes(mask, label),
        imagePath=rel.replace(os.sep, '/'),
        imageData=None,
        imageHeight=int(mask.shape[0]),
        imageWidth=int(mask.shape[1]))
    return atomic_dump_json(path, doc)


def image_record(file: str, mask: np.ndarray) -> dict:
    """The per-image record a COCO file is built from.

    Args:
        file (str): The image's path relative to the input folder.
        mask (np.ndarray): (H, W) prediction, nonzero = foreground.

    Returns:
        dict: ``file``, ``height``, ``width``, ``area`` (foreground pixels)
        and ``rle`` (:func:`mask_to_rle`).
    """
    return dict(
        file=file,
        height=int(mask.shape[0]),
        width=int(mask.shape[1]),
        area=int(np.count_nonzero(mask)),
        rle=mask_to_rle(mask))


def _annotation(rle: dict, ann_id: int, image_id: int) -> dict:
    coded = dict(size=rle['size'], counts=rle['counts'].encode('ascii'))
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=1,
        segmentation=rle,
        area=float(mask_utils.area(coded)),
        bbox=[float(v) for v in mask_utils.toBbox(coded)],
        iscrowd=0)


def coco_annotations(record: dict, image_id: int, first_id: int,
                     split_instances: bool) -> List[dict]:
    """The COCO annotations of one image record.

    Args:
        record (dict): From :func:`image_record`.
        image_id (int): The image's COCO id.
        first_id (int): The id of the first annotation.
        split_instances (bool): One annotation per 8-connected component
            instead of one for the whole mask.

    Returns:
        list[dict]: none for an empty mask.
    """
    if not record['area']:
        return []
    if not split_instances:
        return [_annotation(record['rle'], first_id, image_id)]
    count, labels = cv2.connectedComponents(
        rle_to_mask(record['rle']), connectivity=8)
    return [
        _annotation(mask_to_rle(labels == c), first_id + c - 1, image_id)
        for c in range(1, count)
    ]


def build_coco(records: Iterable[Optional[dict]],
               label: str,
               split_instances: bool = False) -> Dict[str, list]:
    """One COCO dict for a run, from its image records in order.

    Args:
        records (Iterable[dict]): :func:`image_record` dicts (``None``
            entries are skipped); image ids follow their order from 1.
        label (str): The name of the one category (id 1).
        split_instances (bool): See :func:`coco_annotations`.

    Returns:
        dict: ``info``, ``images``, ``annotations``, ``categories``.
    """
    images, annotations = [], []
    for record in records:
        if record is None:
            continue
        image_id = len(images) + 1
        images.append(
            dict(
                id=image_id,
                file_name=record['file'],
                height=record['height'],
                width=record['width']))
        annotations += coco_annotations(record, image_id,
                                        len(annotations) + 1, split_instances)
    return dict(
        info=dict(description='hsnet-mm tools/segment_folder.py'),
        images=images,
        annotations=annotations,
        categories=[dict(id=1, name=label, supercategory=label)])
