# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Tiny on-disk few-shot dataset trees (PASCAL, COCO, FSS, folders).

Plain builders; ``tests/conftest.py`` makes session fixtures of them.
"""
import json
from pathlib import Path
from typing import Dict, List

import numpy as np
from PIL import Image

#: Images per class of the tiny trees (5-shot needs 6).
PER_CLASS = 7


def _write_pair(img_path: Path, mask_path: Path, mask: np.ndarray,
                rng: np.random.Generator) -> None:
    img_path.parent.mkdir(parents=True, exist_ok=True)
    mask_path.parent.mkdir(parents=True, exist_ok=True)
    h, w = mask.shape
    img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(img).save(img_path, quality=95)
    Image.fromarray(mask).save(mask_path)


def _two_class_mask(h: int, w: int, a: int, b: int,
                    boundary: bool) -> np.ndarray:
    """Left half ``a``, right half ``b`` (label values), 255 seam."""
    mask = np.zeros((h, w), np.uint8)
    mask[2:-2, 1:w // 2] = a
    mask[2:-2, w // 2:-1] = b
    if boundary:
        mask[:, w // 2 - 1:w // 2 + 1] = 255
    return mask


def write_pascal_tree(base: Path) -> Path:
    """VOC2012 tree: 20 classes x PER_CLASS images, 2 classes per image.

    Image ``i`` shows classes ``i % 20`` and ``(i + 7) % 20``; split lists
    follow the official layout (``splits/pascal/{trn,val}/fold*.txt``).
    """
    root = base / 'VOC2012'
    rng = np.random.default_rng(0)
    pairs = []
    for i in range(20 * PER_CLASS // 2):
        stem = f'2008_{i:06d}'
        a, b = i % 20, (i + 7) % 20
        h, w = 20 + i % 5, 28 + i % 3
        _write_pair(root / 'JPEGImages' / f'{stem}.jpg',
                    root / 'SegmentationClassAug' / f'{stem}.png',
                    _two_class_mask(h, w, a + 1, b + 1, True), rng)
        pairs += [(stem, a), (stem, b)]
    for split in ('trn', 'val'):  # both lists hold every image
        for fold in range(4):
            out = root / 'splits' / 'pascal' / split / f'fold{fold}.txt'
            out.parent.mkdir(parents=True, exist_ok=True)
            keep = sorted((s, c) for s, c in pairs if c // 5 == fold)
            out.write_text(''.join(f'{s}__{c + 1:02d}\n' for s, c in keep))
    return root


def write_coco_tree(base: Path) -> Path:
    """COCO2014 tree: 80 classes x PER_CLASS images per split."""
    root = base / 'COCO2014'
    rng = np.random.default_rng(1)
    for sub, split in (('train2014', 'trn'), ('val2014', 'val')):
        members: Dict[int, List[str]] = {c: [] for c in range(80)}
        for i in range(80 * PER_CLASS // 2):
            rel = f'{sub}/COCO_{sub}_{i:012d}.jpg'
            a, b = i % 80, (i + 33) % 80
            _write_pair(root / rel,
                        root / 'annotations' / rel.replace('.jpg', '.png'),
                        _two_class_mask(16, 20, a + 1, b + 1, False), rng)
            members[a].append(rel)
            members[b].append(rel)
        for fold in range(4):
            test = set(range(fold, 80, 4))
            keep = {
                str(c): (v if (c in test) == (split == 'val') else [])
                for c, v in members.items()
            }
            out = root / 'splits' / 'coco' / split / f'fold{fold}.json'
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(keep))
    return root


FSS_CATEGORIES = dict(
    trn=['ant', 'bee', 'cat'], val=['dog', 'eel'], test=['fox', 'gnu'])


def write_fss_tree(base: Path) -> Path:
    """FSS-1000 tree: 7 categories x 10 images, grayscale 0/255 masks."""
    root = base / 'FSS-1000'
    rng = np.random.default_rng(2)
    for split, cats in FSS_CATEGORIES.items():
        for cat in cats:
            for n in range(1, 11):
                mask = np.zeros((12, 12), np.uint8)
                mask[2:2 + n % 8 + 2, 3:9] = 255
                mask[0, 0] = 127  # below the 128 threshold
                _write_pair(root / cat / f'{n}.jpg', root / cat / f'{n}.png',
                            mask, rng)
        lst = root / 'splits' / 'fss' / f'{split}.txt'
        lst.parent.mkdir(parents=True, exist_ok=True)
        lst.write_text(''.join(f'{c}\n' for c in reversed(cats)))
    return root


def write_folder_tree(base: Path) -> Path:
    """User folders: ``binary/`` (0/255 masks) and ``index/`` (3 classes)."""
    rng = np.random.default_rng(3)
    for i in range(PER_CLASS):
        mask = np.zeros((10, 14), np.uint8)
        mask[2:8, 3:3 + i + 2] = 255 if i % 2 else 1
        ext = 'png' if i == 0 else 'jpg'
        _write_pair(base / 'binary' / 'images' / f'im{i}.{ext}',
                    base / 'binary' / 'masks' / f'im{i}.png', mask, rng)
    for i in range(3 * PER_CLASS // 2 + 1):
        a, b = i % 3, (i + 1) % 3
        _write_pair(base / 'index' / 'images' / f'x{i:02d}.jpg',
                    base / 'index' / 'masks' / f'x{i:02d}.png',
                    _two_class_mask(12, 16, 10 * (a + 1), 10 * (b + 1),
                                    True), rng)
    return base


def episode_key(dataset, index: int) -> tuple:
    """(class, query, supports) of ``get_data_info(index)``."""
    info = dataset.get_data_info(index)
    return (info['class_id'], info['query_name'], tuple(info['support_names']))
