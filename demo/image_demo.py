# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Segment a support set's class in query images (mmseg's image_demo).

Usage::

    python demo/image_demo.py QUERY [QUERY ...] --support IMG MASK \
        [--support IMG MASK ...] CONFIG CHECKPOINT --out-dir DIR \
        [--device cpu] [--opacity 0.5] [--max-pixels N]

Writes, per query, ``DIR/vis/<query stem>.png`` (the supports with their
masks, then the query with the prediction) and ``DIR/pred/<query
stem>.png`` (the mask, 0/255 grayscale, at the query's size). Bad input
(a missing or corrupt file, an empty mask, a mask of another size, a
checkpoint of another model, an unwritable folder) stops before any file is
written, with a message that names it. The queries are processed one at
a time (the memory is one query's, see docs/inference.md "Memory"); an
image of more than --max-pixels pixels (default: $HSNET_MAX_PIXELS, else
150 megapixels) is refused from its header, before it is decoded.
"""
import argparse
import os.path as osp

from hsnet_mm.apis import FewShotInferencer
from hsnet_mm.apis.episode_inputs import load_support_set, to_rgb
from hsnet_mm.apis.inference import add_model_arguments, add_support_argument
from hsnet_mm.apis.pixel_limit import MAX_PIXELS_ENV
from hsnet_mm.utils import (UserError, check_device, check_writable_dirs,
                            one_line, run_cli)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Few-shot segmentation of query images')
    parser.add_argument(
        'queries', nargs='+', metavar='QUERY', help='query image file(s)')
    parser.add_argument('config', metavar='CONFIG', help='config file')
    add_model_arguments(parser)
    add_support_argument(parser)
    parser.add_argument(
        '--out-dir', required=True, help='folder for vis/ and pred/')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--opacity',
        type=float,
        default=0.5,
        help='opacity of the overlays, in [0, 1]')
    parser.add_argument(
        '--max-pixels',
        type=int,
        help='refuse images of more pixels (0: no limit; default: '
        f'${MAX_PIXELS_ENV}, else 150000000)')
    # intermixed: QUERY..., CONFIG and CHECKPOINT may sit on either side of
    # the options (plain parse_args would split the positionals at them)
    args = parser.parse_intermixed_args(argv)
    if not 0 <= args.opacity <= 1:
        parser.error(f'--opacity must be in [0, 1], got {args.opacity}')
    if args.max_pixels is not None and args.max_pixels < 0:
        parser.error(f'--max-pixels must be >= 0, got {args.max_pixels}')
    return args


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse an unwritable ``--out-dir`` and unreadable or unfit images
    and masks (missing, corrupt, empty, of another size), naming them.

    Raises:
        UserError: with the reason.
    """
    try:
        check_writable_dirs(
            osp.join(args.out_dir, 'vis'), osp.join(args.out_dir, 'pred'))
    except OSError as e:
        raise UserError(f'--out-dir {args.out_dir}: {one_line(e)}') from e
    try:
        load_support_set([img for img, _ in args.support],
                         [mask for _, mask in args.support], args.max_pixels)
        for i, query in enumerate(args.queries):  # decoded one at a time
            to_rgb(query, f'queries[{i}]', args.max_pixels)
    except (OSError, ValueError) as e:
        raise UserError(one_line(e)) from e


def main(argv=None) -> int:
    args = parse_args(argv)
    check_device(args.device)
    check_inputs(args)  # before the model is built
    inferencer = FewShotInferencer(
        args.config,
        weights=args.checkpoint,
        device=args.device,
        max_pixels=args.max_pixels,
        backend=args.backend)
    results = inferencer.stream(
        args.queries, [img for img, _ in args.support],
        [mask for _, mask in args.support],
        out_dir=args.out_dir,
        opacity=args.opacity)
    for query in args.queries:  # one result in memory at a time
        sample, _ = next(results)
        print(f'{query}: {int(sample.pred_sem_seg.data.sum())} foreground '
              'pixels')
        del sample
    print(f'Wrote {args.out_dir}/vis/ (pictures) and {args.out_dir}/pred/ '
          f'(masks)')
    return 0


if __name__ == '__main__':
    run_cli(main)
