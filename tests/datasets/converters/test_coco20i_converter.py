# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import json

import numpy as np
import pytest
from PIL import Image

from hsnet_mm.datasets.coco20i import read_coco_split

mask_api = pytest.importorskip('pycocotools.mask')

TOOL = 'dataset_converters/coco20i.py'
# 80 category ids with gaps, as in COCO (1..90)
CAT_IDS = [
    i for i in range(1, 91)
    if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)
]


def _rect(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def _make_coco(tmp_path):
    root = tmp_path / 'COCO2014'
    (root / 'annotations').mkdir(parents=True)
    rle = mask_api.encode(
        np.asfortranarray(np.pad(np.ones((2, 2), np.uint8), ((4, 4), (6, 4)))))
    rle['counts'] = rle['counts'].decode('ascii')
    specs = {
        'train2014': [
            # (file, [(category id, segmentation, area)])
            ('a.jpg', [(CAT_IDS[1], _rect(0, 0, 10, 10), 100),
                       (CAT_IDS[0], _rect(2, 2, 4, 4), 4)]),
            ('b.jpg', [(CAT_IDS[79], rle, 4)]),
            ('c.jpg', []),
        ],
        'val2014': [('d.jpg', [(CAT_IDS[0], _rect(0, 0, 3, 3), 9)])],
    }
    for sub, images in specs.items():
        coco = dict(
            categories=[dict(id=c, name=str(c)) for c in CAT_IDS],
            images=[],
            annotations=[])
        for i, (name, anns) in enumerate(images):
            coco['images'].append(
                dict(
                    id=i, file_name=f'COCO_{sub}_{name}', height=10, width=12))
            for j, (cat, segm, area) in enumerate(anns):
                coco['annotations'].append(
                    dict(
                        id=100 * i + j,
                        image_id=i,
                        category_id=cat,
                        segmentation=segm,
                        area=area,
                        iscrowd=0))
        (root / 'annotations' / f'instances_{sub}.json').write_text(
            json.dumps(coco))
    return root


def _read(path):
    with Image.open(path) as img:
        return np.array(img)


def test_convert_and_resume(tmp_path, run_tool, snapshot):
    root = _make_coco(tmp_path)
    sources = snapshot(root)
    run_tool(TOOL, root, '--nproc', 2)
    ann = root / 'annotations'
    a = _read(ann / 'train2014/COCO_train2014_a.png')
    assert a.shape == (10, 12)
    assert a[3, 3] == 1  # small class 0 painted over the large class 1
    assert a[8, 8] == 2 and a[0, 11] == 0
    b = _read(ann / 'train2014/COCO_train2014_b.png')
    assert (b == 80).sum() == 4 and b[4, 6] == 80
    assert not (ann / 'train2014/COCO_train2014_c.png').exists()
    assert all(snapshot(root)[k] == v for k, v in sources.items())
    lists = root / 'splits' / 'coco'
    trn0 = read_coco_split(str(lists / 'trn/fold0.json'))
    assert sorted(trn0) == list(range(80))
    assert trn0[1] == [
        'train2014/COCO_train2014_a.png'.replace('.png', '.jpg')
    ]
    assert trn0[0] == []  # class 0 is a test class of fold 0
    assert trn0[79] == ['train2014/COCO_train2014_b.jpg']
    val0 = read_coco_split(str(lists / 'val/fold0.json'))
    assert val0[0] == ['val2014/COCO_val2014_d.jpg']
    trn1 = read_coco_split(str(lists / 'trn/fold1.json'))
    assert trn1[0] == ['train2014/COCO_train2014_a.jpg']
    assert trn1[1] == []
    before = snapshot(root / 'splits')
    (ann / 'train2014/COCO_train2014_b.png').unlink()
    run_tool(TOOL, root, '--nproc', 1)
    assert np.array_equal(_read(ann / 'train2014/COCO_train2014_b.png'), b)
    assert snapshot(root / 'splits') == before
    run_tool(TOOL, root, '--nproc', 1, '--min-pixels', 5)
    assert snapshot(root / 'splits') == before  # existing lists are kept
    run_tool(TOOL, root, '--nproc', 1, '--min-pixels', 5, '--overwrite-lists')
    trn1 = read_coco_split(str(lists / 'trn/fold1.json'))
    assert trn1[0] == [] and trn1[79] == []  # 4-pixel objects dropped


def test_missing_json(tmp_path, run_tool):
    with pytest.raises(FileNotFoundError, match='instances_train2014.json'):
        run_tool(TOOL, tmp_path)
