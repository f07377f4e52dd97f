# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Check and normalise an extracted FSS-1000 archive.

Input (never modified): ``SRC``, the extracted ``fewshot_data`` folder with
``<category>/<n>.jpg`` and ``<n>.png`` (some masks are RGB).

Output ``OUT/<category>/<n>.jpg`` (copied, or hard-linked with ``--link``)
and ``OUT/<category>/<n>.png`` as single-channel 0/255 masks (>= 128 is the
object, as the dataset reads them). Images without a mask are reported and
left out; with ``--split-dir`` (the official ``data/splits/fss``) missing
categories are reported too. Reruns skip finished files (and remove the
temporary files of an interrupted run). A corrupt mask stops the run with
its name, or is skipped and listed at the end with ``--skip-corrupt``.

Example::

    python tools/dataset_converters/fss1000.py data/fewshot_data \\
        -o data/FSS-1000 --split-dir data/FSS-1000/splits/fss --nproc 8
"""
import argparse
import os
import os.path as osp
from functools import partial
from typing import List, Tuple

import numpy as np
from PIL import Image

from hsnet_mm.datasets.convert_utils import (CorruptFileError, check_folders,
                                             check_nproc, clean_temp_files,
                                             copy_file, count_skipped, reading,
                                             report_skipped, run_parallel,
                                             save_png)
from hsnet_mm.utils import UserError, run_cli


def convert_one(task: Tuple[str, str], src: str, out: str, link: bool) -> str:
    """Copy one image and normalise its mask; return 'done' or 'skipped'."""
    cat, stem = task
    dst_img = osp.join(out, cat, f'{stem}.jpg')
    dst_mask = osp.join(out, cat, f'{stem}.png')
    done = 0
    if not osp.exists(dst_mask):
        path = osp.join(src, cat, f'{stem}.png')
        with reading(path), Image.open(path) as img:
            gray = np.array(img.convert('L'))
        save_png(dst_mask, (gray >= 128).astype(np.uint8) * 255)
        done += 1
    if not osp.exists(dst_img):
        copy_file(osp.join(src, cat, f'{stem}.jpg'), dst_img, link)
        done += 1
    return 'done' if done else 'skipped'


def find_pairs(src: str) -> Tuple[List[Tuple[str, str]], List[str]]:
    """(category, stem) pairs with both files, and images lacking a mask."""
    pairs, lonely = [], []
    for cat in sorted(os.listdir(src)):
        folder = osp.join(src, cat)
        if not osp.isdir(folder):
            continue
        files = set(os.listdir(folder))
        for f in sorted(files):
            stem, ext = osp.splitext(f)
            if ext != '.jpg':
                continue
            if f'{stem}.png' in files:
                pairs.append((cat, stem))
            else:
                lonely.append(osp.join(cat, f))
    return pairs, lonely


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Normalise FSS-1000')
    parser.add_argument('src', help='extracted fewshot_data folder')
    parser.add_argument(
        '-o', '--out-dir', required=True, help='output FSS-1000 folder')
    parser.add_argument(
        '--split-dir',
        help='official data/splits/fss, to '
        'report missing categories')
    parser.add_argument(
        '--link',
        action='store_true',
        help='hard-link images instead of copying')
    parser.add_argument(
        '--nproc',
        type=int,
        default=os.cpu_count() or 1,
        help='worker processes')
    parser.add_argument(
        '--skip-corrupt',
        action='store_true',
        help='skip masks that cannot be read and list them at the end '
        '(default: stop at the first, naming it)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    # every argument is checked before any work
    check_nproc(args.nproc)
    check_folders(args.src, [args.out_dir], out_inside_src=False)
    split_files = [
        osp.join(args.split_dir, f'{split}.txt')
        for split in ('trn', 'val', 'test')
    ] if args.split_dir else []
    missing_lists = [f for f in split_files if not osp.isfile(f)]
    if missing_lists:  # before the conversion, not after it
        raise FileNotFoundError(f'--split-dir: {", ".join(missing_lists)} '
                                'not found (the official data/splits/fss)')
    pairs, lonely = find_pairs(args.src)
    if not pairs:
        raise UserError(f'{args.src} holds no FSS-1000 image/mask pairs '
                        '(<class>/<n>.jpg with <class>/<n>.png)')
    clean_temp_files(args.out_dir)
    for path in lonely:
        print(f'warning: {path} has no mask, left out')
    results = run_parallel(
        partial(convert_one, src=args.src, out=args.out_dir, link=args.link),
        pairs, args.nproc, args.skip_corrupt)
    corrupt = count_skipped(results)
    results = report_skipped(results)
    cats = {c for c, _ in pairs}
    print(f'{len(cats)} categories, {results.count("done")} images written, '
          f'{results.count("skipped")} already there, {corrupt} corrupt '
          f'(skipped), in {args.out_dir}')
    for split, path in zip(('trn', 'val', 'test'), split_files):
        with open(path) as f:
            listed = [ln.strip() for ln in f if ln.strip()]
        missing = [c for c in listed if c not in cats]
        if missing:
            print(f'warning: {len(missing)} categories of {split}.txt '
                  f'are missing, e.g. {missing[:5]}')


if __name__ == '__main__':
    run_cli(main, user_errors=(CorruptFileError, ))
