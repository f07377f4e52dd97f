# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Build ``SegmentationClassAug`` for PASCAL-5i from VOC2012 and SBD.

Inputs (public archives, extracted; never modified):

- ``VOC_ROOT``: ``VOCdevkit/VOC2012`` with ``JPEGImages/`` and
  ``SegmentationClass/`` (palette PNGs, 255 = boundary);
- ``--sbd-root``: SBD's ``benchmark_RELEASE/dataset`` with ``cls/*.mat``.

Output: ``VOC_ROOT/SegmentationClassAug/<name>.png`` (or ``-o``), grayscale
index PNGs (0 background, 1..20 classes, 255 boundary). VOC's own mask wins
where both exist. Reruns skip finished files (and remove the temporary
files of an interrupted run). A corrupt source file stops the run with its
name, or is skipped and listed at the end with ``--skip-corrupt``. The
split lists are the official ones (``data/splits/pascal`` of
juhongm999/hsnet); see docs/dataset_prepare.md.

Example::

    python tools/dataset_converters/pascal5i.py data/VOCdevkit/VOC2012 \\
        --sbd-root data/benchmark_RELEASE/dataset --nproc 8
"""
import argparse
import os
import os.path as osp
from functools import partial
from typing import Optional, Tuple

import numpy as np
from PIL import Image

from hsnet_mm.datasets.convert_utils import (CorruptFileError, check_folders,
                                             check_nproc, clean_temp_files,
                                             count_skipped, reading,
                                             report_skipped, run_parallel,
                                             save_png)
from hsnet_mm.utils import run_cli


def read_voc_mask(path: str) -> np.ndarray:
    """Class indices of a VOC ``SegmentationClass`` PNG."""
    with reading(path), Image.open(path) as img:
        if img.mode not in ('P', 'L'):
            raise ValueError(f'a {img.mode} image; expected the '
                             f'palette PNGs of VOC SegmentationClass')
        return np.array(img)


def read_sbd_mask(path: str) -> np.ndarray:
    """Class indices of an SBD ``cls/*.mat`` file (GTcls.Segmentation)."""
    from scipy.io import loadmat  # optional dependency, needed only here
    with reading(path):
        mat = loadmat(path)
        try:
            mask = mat['GTcls'][0]['Segmentation'][0]
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f'no GTcls.Segmentation: {e}') from e
    return np.asarray(mask, dtype=np.uint8)


def convert_one(task: Tuple[str, Optional[str], Optional[str]],
                out_dir: str) -> str:
    """Write one mask unless it exists; return 'done' or 'skipped'."""
    name, voc_png, sbd_mat = task
    out = osp.join(out_dir, f'{name}.png')
    if osp.exists(out):
        return 'skipped'
    mask = read_voc_mask(voc_png) if voc_png else read_sbd_mask(sbd_mat)
    save_png(out, mask)
    return 'done'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build SegmentationClassAug (VOC2012 + SBD) for '
        'PASCAL-5i')
    parser.add_argument('voc_root', help='VOCdevkit/VOC2012 folder')
    parser.add_argument(
        '--sbd-root', help='SBD benchmark_RELEASE/dataset folder (cls/*.mat)')
    parser.add_argument(
        '-o',
        '--out-dir',
        help='output folder (default: VOC_ROOT/SegmentationClassAug)')
    parser.add_argument(
        '--nproc',
        type=int,
        default=os.cpu_count() or 1,
        help='worker processes')
    parser.add_argument(
        '--skip-corrupt',
        action='store_true',
        help='skip source files that cannot be read and list them at the '
        'end (default: stop at the first, naming it)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    voc_dir = osp.join(args.voc_root, 'SegmentationClass')
    if not osp.isdir(voc_dir):
        raise FileNotFoundError(f'{voc_dir} is missing: VOC_ROOT must be the '
                                f'extracted VOCdevkit/VOC2012 folder')
    sbd_dir = osp.join(args.sbd_root, 'cls') if args.sbd_root else None
    if sbd_dir and not osp.isdir(sbd_dir):
        raise FileNotFoundError(f'{sbd_dir} is missing: --sbd-root must '
                                f'be benchmark_RELEASE/dataset')
    out_dir = args.out_dir or osp.join(args.voc_root, 'SegmentationClassAug')
    # every argument is checked before any work
    check_nproc(args.nproc)
    check_folders(
        args.voc_root, [out_dir],
        sources=[voc_dir, osp.join(args.voc_root, 'JPEGImages')] +
        ([args.sbd_root, sbd_dir] if sbd_dir else []),
        src_arg='VOC_ROOT')
    sources = {}
    if sbd_dir:
        for f in sorted(os.listdir(sbd_dir)):
            if f.endswith('.mat'):
                sources[f[:-4]] = (None, osp.join(sbd_dir, f))
    for f in sorted(os.listdir(voc_dir)):
        if f.endswith('.png'):
            sources[f[:-4]] = (osp.join(voc_dir, f), None)
    os.makedirs(out_dir, exist_ok=True)
    clean_temp_files(out_dir)
    tasks = [(name, voc, sbd) for name, (voc, sbd) in sorted(sources.items())]
    results = run_parallel(
        partial(convert_one, out_dir=out_dir), tasks, args.nproc,
        args.skip_corrupt)
    corrupt = count_skipped(results)  # not 'already there'
    results = report_skipped(results)
    print(f'{results.count("done")} masks written, '
          f'{results.count("skipped")} already there, {corrupt} corrupt '
          f'(skipped), in {out_dir}')


if __name__ == '__main__':
    run_cli(main, user_errors=(CorruptFileError, ))
