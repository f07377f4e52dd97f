# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The PNG, COCO and LabelMe writers, each file opened back: pycocotools
decodes the RLE to the mask exactly, the LabelMe polygons rasterise back."""
import json

import cv2
import numpy as np
import pytest
from PIL import Image
from pycocotools.coco import COCO

from hsnet_mm.apis.annotation_writers import (HOLE_SUFFIX, build_coco,
                                              image_record, labelme_shapes,
                                              mask_to_rle, rle_to_mask,
                                              write_labelme, write_png_mask)


def ring_mask() -> np.ndarray:
    """An object with a hole holding an island, a diagonal thin line, a
    single pixel and a blob at the border: the hard cases of contours."""
    mask = np.zeros((60, 80), np.uint8)
    cv2.circle(mask, (25, 28), 20, 1, -1)
    cv2.circle(mask, (25, 28), 10, 0, -1)  # hole
    cv2.rectangle(mask, (23, 26), (27, 30), 1, -1)  # island in the hole
    cv2.line(mask, (50, 5), (75, 30), 1, 1)  # 1 px diagonal line
    mask[50, 60] = 1  # single pixel
    mask[45:60, 70:80] = 1  # touching the border
    return mask


def rasterise(shapes, label, shape) -> np.ndarray:
    """The mask of LabelMe shapes, filled in file order (holes with 0)."""
    out = np.zeros(shape, np.uint8)
    for s in shapes:
        pts = np.round(np.array(s['points'])).astype(np.int32)
        cv2.fillPoly(out, [pts], 0 if s['label'] == label + HOLE_SUFFIX else 1)
    return out


def iou(a, b) -> float:
    return (a & b).sum() / max(1, (a | b).sum())


def test_png_mask_is_0_255_at_image_size(tmp_path):
    mask = ring_mask()
    path = write_png_mask(str(tmp_path / 'a' / 'm.png'), mask)
    back = np.array(Image.open(path))
    assert back.dtype == np.uint8 and back.shape == mask.shape
    assert set(np.unique(back)) == {0, 255}
    assert np.array_equal(back > 0, mask > 0)
    assert [p.name for p in (tmp_path / 'a').iterdir()] == ['m.png']


def test_rle_round_trip_and_json_ready():
    mask = ring_mask()
    rle = mask_to_rle(mask)
    assert isinstance(rle['counts'], str) and rle['size'] == [60, 80]
    json.dumps(rle)
    assert np.array_equal(rle_to_mask(rle), mask)


@pytest.mark.parametrize('split', [False, True])
def test_coco_decodes_to_the_masks_exactly(tmp_path, split):
    masks = {
        'a.png': ring_mask(),
        'sub/b.jpg': np.zeros((30, 40), np.uint8),  # empty: no annotation
        'c.png': np.pad(np.ones((5, 7), np.uint8), 3)
    }
    for name, mask in masks.items():
        write_png_mask(str(tmp_path / 'png' / f'{name}.png'), mask)
    records = [image_record(name, m) for name, m in masks.items()]
    path = tmp_path / 'coco.json'
    path.write_text(json.dumps(build_coco([None] + records, 'cup', split)))
    coco = COCO(str(path))
    assert coco.loadCats(1) == [dict(id=1, name='cup', supercategory='cup')]
    assert [coco.imgs[i]['file_name'] for i in (1, 2, 3)] == list(masks)
    n_parts = cv2.connectedComponents(ring_mask(), connectivity=8)[0] - 1
    assert n_parts == 5  # ring, island, line, pixel, border blob
    assert [len(coco.getAnnIds(imgIds=i))
            for i in (1, 2, 3)] == [n_parts if split else 1, 0, 1]
    for img_id, name in zip((1, 2, 3), masks):
        png = np.array(Image.open(tmp_path / 'png' / f'{name}.png')) > 0
        union = np.zeros(png.shape, np.uint8)
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=img_id)):
            part = coco.annToMask(ann)
            assert ann['iscrowd'] == 0 and ann['category_id'] == 1
            assert isinstance(ann['segmentation']['counts'], str)
            assert ann['area'] == part.sum()
            ys, xs = np.nonzero(part)
            assert ann['bbox'] == [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1
            ]
            assert not (union & part).any()  # instances do not overlap
            union |= part
        assert np.array_equal(union, png)
    ids = [a['id'] for a in coco.dataset['annotations']]
    assert ids == list(range(1, len(ids) + 1))


def test_labelme_polygons_rasterise_back(tmp_path):
    mask = ring_mask()
    img = tmp_path / 'photos' / 'sub' / 'x.jpg'
    path = write_labelme(
        str(tmp_path / 'out' / 'labelme' / 'sub' / 'x.json'), mask, 'cup',
        str(img))
    doc = json.loads(open(path).read())
    assert doc['imagePath'] == '../../../photos/sub/x.jpg'
    assert (doc['imageHeight'], doc['imageWidth']) == mask.shape
    assert doc['imageData'] is None and doc['version']
    labels = [s['label'] for s in doc['shapes']]
    assert labels.count('cup_hole') == 1 and labels.count('cup') == 5
    assert all(s['shape_type'] == 'polygon' and len(s['points']) >= 3
               for s in doc['shapes'])
    hole = labels.index('cup_hole')
    ring_group = doc['shapes'][hole]['group_id']
    assert labels.index('cup') < hole  # outer shapes come first
    assert ring_group in [s['group_id'] for s in doc['shapes'][:hole]]
    back = rasterise(doc['shapes'], 'cup', mask.shape)
    assert iou(back, mask) >= 0.98
    # the island inside the hole survives (drawn after the hole)
    assert back[28, 25] == 1 and back[28, 17] == 0


def test_labelme_of_simple_and_empty_masks():
    assert labelme_shapes(np.zeros((8, 9), np.uint8), 'x') == []
    rng = np.random.default_rng(0)
    blobs = cv2.GaussianBlur(rng.random((90, 120)), (0, 0), 6)
    mask = (blobs > np.median(blobs)).astype(np.uint8)
    shapes = labelme_shapes(mask * 255, 'x')
    assert iou(rasterise(shapes, 'x', mask.shape), mask) >= 0.98


@pytest.mark.parametrize('dtype', [np.uint8, np.int64, bool, np.float32])
def test_writers_read_any_mask_dtype_and_leave_it_alone(tmp_path, dtype):
    """The same files from any dtype; a uint8 mask is read in place (no
    copy at 12000 x 12000) and left as it was."""
    ring = ring_mask()
    mask = (ring * (255 if dtype == np.uint8 else 1)).astype(dtype)
    before = mask.copy()
    assert np.array_equal(rle_to_mask(mask_to_rle(mask)), ring)
    shapes = labelme_shapes(mask, 'cup')
    assert shapes == labelme_shapes(ring, 'cup')
    back = np.array(Image.open(write_png_mask(str(tmp_path / 'm.png'), mask)))
    assert np.array_equal(back, ring * 255)
    assert np.array_equal(mask, before)
