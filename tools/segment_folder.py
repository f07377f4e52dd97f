# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Label a whole folder of images (or a video) from a few annotated examples.

Usage::

    python tools/segment_folder.py CONFIG CHECKPOINT \
        --support IMG MASK [--support IMG MASK ...] --input DIR_OR_GLOB \
        --out-dir OUT [--format png coco labelme] [--label NAME] \
        [--split-instances] [--overwrite] [--device cpu]

The supports are encoded once; the images are read one at a time. Writes
``OUT/masks/<stem>.png`` (0/255), ``OUT/coco.json`` (RLE),
``OUT/labelme/<stem>.json``, ``OUT/contact_sheet*.jpg`` and
``OUT/summary.json``; a rerun resumes (see
:mod:`hsnet_mm.apis.folder_labelling`). Several processes:
``tools/dist_segment_folder.sh`` (torchrun) or
``tools/slurm_segment_folder.sh``. A video file as ``--input`` (.mp4 .avi
.mov .mkv .webm) goes to :func:`hsnet_mm.apis.video_labelling.segment_video`
(``--propagate N`` is passed to it).

There is no ``--batch-size``: the stream segments one query per
``predict`` call (:func:`~hsnet_mm.apis.inference_episode.
iter_loaded_episodes`), so every mask equals ``inference_episode`` on that
image bit for bit; batched convolutions on CPU (oneDNN) differ from single
ones by ~1e-7, which can flip pixels at exact ties.
"""
import argparse
import json

import torch

from hsnet_mm.apis import format_summary, init_model, is_video, label_folder
from hsnet_mm.apis.episode_inputs import load_support_set
from hsnet_mm.apis.inference import add_model_arguments, add_support_argument
from hsnet_mm.apis.labelling_inputs import FORMATS, file_digest
from hsnet_mm.utils import (UserError, check_device, check_writable_dirs,
                            finish_run, init_cpu_dist_if_needed, one_line,
                            run_cli)

#: Seconds a rank waits for the others at a barrier (a slow shard).
DIST_TIMEOUT_S = 24 * 3600


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Label a folder of images from a few annotated examples')
    parser.add_argument('config', help='config file')
    add_model_arguments(parser)
    add_support_argument(parser)
    parser.add_argument(
        '--input',
        required=True,
        help='a folder (searched recursively), a quoted glob such as '
        '"photos/*.jpg", or a video file')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--format',
        nargs='+',
        choices=FORMATS,
        default=['png', 'coco'],
        help='outputs (default: png coco)')
    parser.add_argument(
        '--label', default='object', help='class name in COCO and LabelMe')
    parser.add_argument(
        '--split-instances',
        action='store_true',
        help='COCO: one annotation per connected component')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='remove the results of another model or support set in '
        '--out-dir instead of refusing')
    parser.add_argument(
        '--propagate',
        type=int,
        default=0,
        help='video only: passed to segment_video')
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda:0')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm'],
        default='none',
        help='job launcher (set by the dist_/slurm_ wrappers)')
    args = parser.parse_args(argv)
    if args.propagate < 0:
        parser.error(f'--propagate must be >= 0, got {args.propagate}')
    if args.propagate and not is_video(args.input):
        parser.error('--propagate applies to a video --input only')
    return args


def init_dist(launcher: str) -> bool:
    """Join the process group of a ``torchrun`` / Slurm run.

    Returns:
        bool: whether this run is distributed.
    """
    if launcher == 'none':
        return False
    if not torch.cuda.is_available():
        if launcher != 'pytorch':
            raise UserError(f'--launcher {launcher} needs CUDA; on a CPU '
                            'use tools/dist_segment_folder.sh (torchrun)')
        init_cpu_dist_if_needed(launcher, DIST_TIMEOUT_S)
        return True
    from datetime import timedelta

    from mmengine.dist import init_dist as mmengine_init_dist
    mmengine_init_dist(launcher, timeout=timedelta(seconds=DIST_TIMEOUT_S))
    return True


def main(argv=None) -> int:
    args = parse_args(argv)
    check_device(args.device)
    video = is_video(args.input)
    if video and args.launcher != 'none':
        raise UserError('a video is labelled by one process: use '
                        'tools/segment_folder.py without a launcher')
    check_writable_dirs(args.out_dir)
    try:
        imgs, masks = load_support_set([img for img, _ in args.support],
                                       [mask for _, mask in args.support])
    except (OSError, ValueError) as e:
        raise UserError(one_line(e)) from e
    distributed = init_dist(args.launcher)
    device = args.device
    if distributed and device.startswith('cuda'):
        device = f'cuda:{torch.cuda.current_device()}'
    model = init_model(
        args.config, args.checkpoint, device=device, backend=args.backend)
    if video:
        from hsnet_mm.apis.video_labelling import segment_video
        summary = segment_video(
            model,
            imgs,
            masks,
            args.input,
            args.out_dir,
            propagate=args.propagate,
            progress=not args.no_progress)
        print(json.dumps(summary, default=str))
        return 0
    summary = label_folder(
        model,
        imgs,
        masks,
        args.input,
        args.out_dir,
        formats=args.format,
        label=args.label,
        split_instances=args.split_instances,
        overwrite=args.overwrite,
        model_hashes=dict(
            config_sha256=file_digest(args.config),
            checkpoint_sha256=file_digest(args.checkpoint)),
        progress=not args.no_progress)
    if not distributed or torch.distributed.get_rank() == 0:
        print(format_summary(summary))
    finish_run()  # distributed: gloo's teardown could abort the exit
    return 0


if __name__ == '__main__':
    run_cli(main)
