# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Export an HSNet checkpoint to ONNX (an encoder and a predictor graph).

Example::

    python tools/deployment/pytorch2onnx.py \
        configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py CHECKPOINT \
        --out work_dirs/hsnet_r50_onnx
    python demo/image_demo.py QUERY work_dirs/hsnet_r50_onnx \
        --support IMG MASK --backend openvino

One export serves any number of queries and shots and any input size (the
graphs' B, K, H and W are dynamic). Before the folder is put in place,
ONNX Runtime runs it against PyTorch (logits within ``--tolerance``).
See docs/deployment.md.
"""
import argparse
import time

from hsnet_mm.apis import init_model
from hsnet_mm.deploy import export_onnx
from hsnet_mm.deploy.onnx_export import DEFAULT_OPSET
from hsnet_mm.utils import load_config, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export an HSNet checkpoint to an ONNX directory')
    parser.add_argument('config', help='the model config file')
    parser.add_argument('checkpoint', help='the checkpoint to export')
    parser.add_argument('--out', required=True, help='export directory')
    parser.add_argument(
        '--img-size',
        type=int,
        nargs='+',
        default=[400],
        help='input size traced and checked first: S or H W (default 400; '
        'the export accepts other sizes too)')
    parser.add_argument(
        '--opset',
        type=int,
        default=DEFAULT_OPSET,
        help=f'ONNX opset (default {DEFAULT_OPSET})')
    parser.add_argument(
        '--tolerance',
        type=float,
        default=1e-4,
        help='largest logit difference to PyTorch accepted (default 1e-4)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an existing --out directory')
    args = parser.parse_args(argv)
    if len(args.img_size) not in (1, 2):
        parser.error('--img-size takes S or H W')
    if not args.tolerance > 0:
        parser.error(f'--tolerance must be > 0, got {args.tolerance}')
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = load_config(args.config)
    model = init_model(cfg, args.checkpoint, device='cpu')
    size = args.img_size * (3 - len(args.img_size))
    start = time.perf_counter()
    manifest = export_onnx(
        model,
        cfg,
        args.out,
        img_size=size,
        opset=args.opset,
        tolerance=args.tolerance,
        overwrite=args.overwrite)
    checks = ', '.join(f'{c["size"][0]}x{c["size"][1]} {c["shots"]}-shot '
                       f'{c["max_abs_diff"]:.1e}' for c in manifest['checks'])
    files = ', '.join(f'{g["file"]} {g["bytes"] / 2**20:.1f} MiB'
                      for g in manifest['graphs'].values())
    print(f'exported {args.out} in {time.perf_counter() - start:.0f} s '
          f'(opset {args.opset}): {files}; ONNX Runtime vs PyTorch, largest '
          f'logit difference: {checks}')


if __name__ == '__main__':
    run_cli(main)
