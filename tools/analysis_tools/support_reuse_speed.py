# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Time N queries against one support set: shared supports vs N episodes.

``inference_episode(model, [q1..qN], supports, masks)`` encodes the supports
once; N calls with one query each run N full episodes. Both give the same
masks (checked here). Random weights unless ``--checkpoint``: the timing
does not depend on them. Times are CPU seconds of the process.

Usage::

    python tools/analysis_tools/support_reuse_speed.py CONFIG \
        [--checkpoint CKPT] [--queries 8] [--shots 1 5] [--repeat 2]
"""
import argparse
import json
import time
from typing import Tuple

import numpy as np
import torch

from hsnet_mm.apis import inference_episode, init_model
from hsnet_mm.utils import check_device, run_cli


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint', default=None)
    parser.add_argument('--queries', type=int, default=8)
    parser.add_argument('--shots', type=int, nargs='+', default=[1, 5])
    parser.add_argument(
        '--repeat', type=int, default=2, help='best of this many runs')
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        default=[375, 500],
        metavar=('H', 'W'),
        help='size of the test images')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    for name in ('queries', 'repeat'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1')
    if min(args.shots) < 1 or min(args.size) < 1:
        parser.error('--shots and --size must be >= 1')
    return args


def _best_pair(fn_a, fn_b, repeat: int) -> Tuple[float, float]:
    """Best-of-``repeat`` CPU seconds of ``fn_a`` and ``fn_b``, in turns.

    CPU time of the process (all threads), not wall time: on a shared
    machine it depends far less on the other jobs.
    """
    times_a, times_b = [], []
    for _ in range(repeat):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            start = time.process_time()
            fn()
            times.append(time.process_time() - start)
    return min(times_a), min(times_b)


def main(argv=None) -> dict:
    args = parse_args(argv)
    check_device(args.device)
    cfg_options = None
    if args.checkpoint is None:  # no download of pretrained weights
        cfg_options = {'model.backbone.init_cfg': None}
    model = init_model(args.config, args.checkpoint, args.device, cfg_options)
    rng = np.random.default_rng(0)
    h, w = args.size

    def img():
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

    queries = [img() for _ in range(args.queries)]
    report = {}
    for k in args.shots:
        supports = [img() for _ in range(k)]
        masks = [
            np.pad(
                np.ones((h // 2, w // 2), np.uint8),
                ((h // 4, h - h // 2 - h // 4), (w // 4, w - w // 2 - w // 4)))
            for _ in range(k)
        ]
        shared = inference_episode(model, queries, supports, masks)
        single = [
            inference_episode(model, q, supports, masks) for q in queries
        ]
        for a, b in zip(shared, single):
            assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
        # interleaved, so that a change of machine load hits both alike
        t_shared, t_single = _best_pair(
            lambda: inference_episode(model, queries, supports, masks), lambda:
            [inference_episode(model, q, supports, masks) for q in queries],
            args.repeat)
        report[f'{k}-shot'] = dict(
            shared_s=round(t_shared, 3),
            episodes_s=round(t_single, 3),
            speedup=round(t_single / t_shared, 2))
        print(
            f'{k}-shot, {args.queries} queries, CPU time: shared supports '
            f'{t_shared:.2f} s, {args.queries} episodes {t_single:.2f} s '
            f'({t_single / t_shared:.2f}x)',
            flush=True)
    print(json.dumps(report))
    return report


if __name__ == '__main__':
    run_cli(main)
