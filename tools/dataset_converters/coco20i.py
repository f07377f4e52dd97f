# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Render COCO-20i class-index masks and split lists from COCO 2014.

Input (never modified): ``COCO_ROOT`` with ``annotations/instances_
{train,val}2014.json`` (and the images in ``train2014/``, ``val2014/``).
Needs ``pycocotools`` (``pip install pycocotools``).

Outputs:

- ``COCO_ROOT/annotations/<train2014|val2014>/<name>.png`` (or under
  ``-o``): 0 background, ``class + 1`` (1..80, categories in sorted id order
  = the contiguous COCO-80 order) per pixel. Instances are painted largest
  first, so small objects stay visible; crowd regions count as their class.
- ``COCO_ROOT/splits/coco/{trn,val}/fold{0..3}.json`` (or ``--split-dir``):
  ``{class: [image paths]}`` for all 80 keys; ``trn/fold{f}`` lists
  train2014 images of the 60 training classes of fold f, ``val/fold{f}``
  val2014 images of its 20 test classes (f, f+4, ..., f+76). An image is
  listed under a class that covers at least ``--min-pixels`` pixels of its
  mask. These are *our* lists; for the official episodes use the official
  ``data/splits/coco`` lists instead.

Reruns skip finished masks (reading them back to build the lists) and
remove the temporary files of an interrupted run.

Example::

    python tools/dataset_converters/coco20i.py data/COCO2014 --nproc 8
"""
import argparse
import json
import os
import os.path as osp
from collections import defaultdict
from functools import partial
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from hsnet_mm.datasets.convert_utils import (CorruptFileError, check_folders,
                                             check_nproc, clean_temp_files,
                                             reading, run_parallel, save_png)
from hsnet_mm.utils import UserError, run_cli
from hsnet_mm.utils.fileio import atomic_dump_json

SPLITS = dict(train2014='trn', val2014='val')


def _mask_api():
    try:
        from pycocotools import mask as mask_api
    except ImportError as e:
        raise ImportError('tools/dataset_converters/coco20i.py needs '
                          'pycocotools: pip install pycocotools') from e
    return mask_api


def decode_segmentation(segm, h: int, w: int) -> np.ndarray:
    """(H, W) bool mask of a COCO polygon list or (un)compressed RLE."""
    mask_api = _mask_api()
    if isinstance(segm, list):
        rle = mask_api.merge(mask_api.frPyObjects(segm, h, w))
    elif isinstance(segm.get('counts'), list):
        rle = mask_api.frPyObjects(segm, h, w)
    else:
        rle = dict(segm)
        if isinstance(rle['counts'], str):
            rle['counts'] = rle['counts'].encode('ascii')
    return mask_api.decode(rle).astype(bool)


def render_one(task: Tuple[str, int, int, List[tuple]],
               out_root: str) -> Tuple[str, Dict[int, int]]:
    """Write (or read back) one mask; return its class pixel counts."""
    rel, h, w, anns = task
    out = osp.join(out_root, osp.splitext(rel)[0] + '.png')
    if osp.exists(out):
        with reading(out), Image.open(out) as img:
            mask = np.array(img)
    else:
        mask = np.zeros((h, w), np.uint8)
        for cls, segm, _ in sorted(anns, key=lambda a: -a[2]):
            region = decode_segmentation(segm, h, w)
            if region.shape != (h, w):
                raise UserError(f'{rel}: an annotation decodes to '
                                f'{region.shape}, the image is {(h, w)}')
            mask[region] = cls + 1
        save_png(out, mask)
    values, counts = np.unique(mask, return_counts=True)
    return rel, {int(v) - 1: int(n) for v, n in zip(values, counts) if v}


def build_tasks(ann_file: str, subdir: str) -> List[tuple]:
    """One task per annotated image of a COCO instances json."""
    with open(ann_file) as f:
        coco = json.load(f)
    cat_ids = sorted(c['id'] for c in coco['categories'])
    if len(cat_ids) != 80:
        raise UserError(f'{ann_file} has {len(cat_ids)} categories, '
                        f'expected the 80 of COCO')
    contiguous = {cat: i for i, cat in enumerate(cat_ids)}
    anns = defaultdict(list)
    for a in coco['annotations']:
        anns[a['image_id']].append((contiguous[a['category_id']],
                                    a['segmentation'], float(a['area'])))
    return [(f'{subdir}/{img["file_name"]}', img['height'], img['width'],
             anns[img['id']]) for img in coco['images'] if img['id'] in anns]


def write_lists(split_dir: str,
                split: str,
                counts: Dict[str, Dict[int, int]],
                min_pixels: int,
                overwrite: bool = False) -> None:
    """Write ``{split}/fold{0..3}.json`` from per-image class counts.

    Existing list files (``.json`` or ``.pkl``, e.g. the official lists
    copied there) are kept unless ``overwrite``: those folds are skipped,
    said so.
    """
    for fold in range(4):
        existing = [
            osp.join(split_dir, split, f'fold{fold}.{ext}')
            for ext in ('json', 'pkl')
        ]
        existing = [p for p in existing if osp.exists(p)]
        if existing and not overwrite:
            print(f'{existing[0]} exists: kept (--overwrite-lists replaces '
                  'it)')
            continue
        test = set(range(fold, 80, 4))
        lists = {str(c): [] for c in range(80)}
        for rel in sorted(counts):
            for c, n in counts[rel].items():
                if n >= min_pixels and (c in test) == (split == 'val'):
                    lists[str(c)].append(rel)
        atomic_dump_json(
            osp.join(split_dir, split, f'fold{fold}.json'), lists, indent=None)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='COCO-20i class-index masks and split lists')
    parser.add_argument(
        'coco_root',
        help='folder with annotations/ and '
        'train2014/, val2014/')
    parser.add_argument(
        '-o',
        '--out-dir',
        help='mask folder (default: '
        'COCO_ROOT/annotations)')
    parser.add_argument(
        '--split-dir', help='list folder (default: '
        'COCO_ROOT/splits/coco)')
    parser.add_argument(
        '--subsets',
        nargs='+',
        default=list(SPLITS),
        choices=list(SPLITS),
        help='what to convert')
    parser.add_argument(
        '--min-pixels',
        type=int,
        default=1,
        help='pixels a class needs to list an image under it')
    parser.add_argument(
        '--overwrite-lists',
        action='store_true',
        help='replace existing split lists (kept by default, e.g. the '
        'official ones)')
    parser.add_argument(
        '--nproc',
        type=int,
        default=os.cpu_count() or 1,
        help='worker processes')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        _mask_api()  # fail early without pycocotools
    except ImportError as err:
        raise UserError(str(err)) from err
    out_root = args.out_dir or osp.join(args.coco_root, 'annotations')
    split_dir = args.split_dir or osp.join(args.coco_root, 'splits', 'coco')
    # every argument is checked before any work
    check_nproc(args.nproc)
    check_folders(
        args.coco_root, [out_root, split_dir],
        sources=[osp.join(args.coco_root, s) for s in SPLITS],
        src_arg='COCO_ROOT')
    ann_files = {
        subdir: osp.join(args.coco_root, 'annotations',
                         f'instances_{subdir}.json')
        for subdir in args.subsets
    }
    for ann_file in ann_files.values():
        if not osp.isfile(ann_file):
            raise FileNotFoundError(f'{ann_file} is missing (extract '
                                    f'annotations_trainval2014.zip)')
    for subdir, ann_file in ann_files.items():
        clean_temp_files(osp.join(out_root, subdir))
        tasks = build_tasks(ann_file, subdir)
        print(f'{subdir}: {len(tasks)} masks', flush=True)
        results = run_parallel(
            partial(render_one, out_root=out_root), tasks, args.nproc)
        write_lists(split_dir, SPLITS[subdir], dict(results), args.min_pixels,
                    args.overwrite_lists)
        print(f'{subdir}: {len(results)} masks in {out_root}/{subdir}, lists '
              f'in {split_dir}/{SPLITS[subdir]}')


if __name__ == '__main__':
    run_cli(main, user_errors=(CorruptFileError, ))
