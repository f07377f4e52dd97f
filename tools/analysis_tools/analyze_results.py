# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Analyse a test's results: per-class IoU, best and worst episodes.

Reads the ``--out`` JSON of ``tools/test.py`` (one run, or ``--seeds``)::

    python tools/test.py CONFIG CKPT --out results.json --show-dir vis
    python tools/analysis_tools/analyze_results.py results.json \
        --out-dir analysis --show-dir vis

writes ``<out-dir>/class_iou.png`` (a bar per class; with several seeds the
bar is the mean and the error bar the min-max over seeds) and, given the
episode PNGs of ``--show-dir``, ``worst_episodes.png`` and
``best_episodes.png`` (support, prediction and ground truth of the N
episodes of lowest and highest foreground IoU), and prints the classes whose
IoU is below ``--threshold``.
"""
import argparse
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from matplotlib.figure import Figure  # no pyplot: no display, no state
from PIL import Image

from hsnet_mm.evaluation.functional import accumulate_episodes, class_ious
from hsnet_mm.utils import UserError, one_line, run_cli

#: (class name, mean IoU, low, high) of one bar.
Bar = Tuple[str, float, float, float]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Per-class IoU chart, best/worst episode gallery and '
        'weak classes of a tools/test.py --out file')
    parser.add_argument('results', help='the --out JSON of tools/test.py')
    parser.add_argument(
        '--out-dir', help='folder of the PNGs (default: next to RESULTS)')
    parser.add_argument(
        '--show-dir',
        help='the --show-dir of the test run (episode_<idx>.png files): '
        'draws the best/worst gallery')
    parser.add_argument(
        '--num', type=int, default=6, help='episodes per gallery (6)')
    parser.add_argument(
        '--threshold',
        type=float,
        default=30.0,
        help='list the classes whose IoU is below this (30.0)')
    parser.add_argument(
        '--seed',
        type=int,
        help='with a --seeds file: the seed whose episodes the gallery '
        'ranks (default: the first)')
    args = parser.parse_args(argv)
    if args.num < 1:
        parser.error(f'--num must be >= 1, got {args.num}')
    return args


def load_results(path: str, seed=None) -> Tuple[List[Bar], List[dict]]:
    """The per-class bars and the episodes (of one seed) of a results file.

    Raises:
        UserError: the file is neither kind of results, or has no such
            seed.
    """
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if isinstance(data, dict) and 'runs' in data and 'summary' in data:
        bars = [(name, s['mean'], s['min'], s['max'])
                for name, s in data['summary']['class_iou'].items()]
        runs = {int(r['seed']): r for r in data['runs']}
        if seed is None:
            seed = int(data['runs'][0]['seed'])
        if seed not in runs:
            raise UserError(f'{path} has seeds {sorted(runs)}, not {seed}')
        return bars, runs[seed]['episodes']
    if isinstance(data, dict) and 'episodes' in data:
        episodes = data['episodes']
        ids = data.get('fold_class_ids') or sorted(
            {int(r['class_id'])
             for r in episodes})
        ious = class_ious(accumulate_episodes(episodes, ids))
        return [(str(c), v, v, v)
                for c, v in zip(ids, ious.tolist())], episodes
    raise UserError(f'{path} is not a tools/test.py --out file (expected '
                    '"episodes", or "runs" and "summary")')


def episode_iou(record: Dict) -> float:
    """Foreground IoU (%) of one episode record."""
    return 100.0 * record['I_fg'] / max(record['U_fg'], 1)


def plot_class_iou(bars: List[Bar], threshold: float, path: str) -> None:
    """A bar per class (error bar: min-max over seeds when they differ)."""
    names = [b[0] for b in bars]
    means = np.array([b[1] for b in bars])
    err = np.array([[b[1] - b[2] for b in bars], [b[3] - b[1] for b in bars]])
    fig = Figure(figsize=(max(6.0, 0.35 * len(bars) + 2), 4))
    ax = fig.subplots()
    x = np.arange(len(bars))
    colors = ['tab:red' if m < threshold else 'tab:blue' for m in means]
    ax.bar(x, means, color=colors, yerr=err if err.any() else None, capsize=2)
    ax.axhline(threshold, color='grey', linestyle='--', linewidth=1)
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel('IoU (%)')
    ax.set_ylim(0, 100)
    ax.set_title(f'per-class IoU (mIoU {means.mean():.2f})')
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def draw_gallery(records: List[dict], show_dir: str, title: str,
                 path: str) -> None:
    """Stack the episodes' PNGs of ``show_dir`` with their IoU as titles.

    Raises:
        FileNotFoundError: an episode has no PNG in ``show_dir``.
    """
    files = [
        osp.join(show_dir, f"episode_{r['episode_idx']:05d}.png")
        for r in records
    ]
    missing = [f for f in files if not osp.isfile(f)]
    if missing:
        raise FileNotFoundError(
            f'{missing[0]} is missing ({len(missing)} of {len(files)}): was '
            f'{show_dir} drawn by the same test run (--show-dir)?')
    images = [np.asarray(Image.open(f).convert('RGB')) for f in files]
    width = max(4.0, max(img.shape[1] for img in images) / 100)
    heights = [img.shape[0] / 100 + 0.3 for img in images]
    fig = Figure(figsize=(width, sum(heights)))
    axes = fig.subplots(len(images), 1, squeeze=False)
    for ax, img, rec in zip(axes[:, 0], images, records):
        ax.imshow(img)
        ax.set_axis_off()
        ax.set_title(
            f"episode {rec['episode_idx']}, class {rec['class_id']}: "
            f'IoU {episode_iou(rec):.1f}',
            fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        bars, episodes = load_results(args.results, args.seed)
    except (json.JSONDecodeError, KeyError) as err:  # the file's content
        raise UserError(f'{args.results} is not a tools/test.py --out file: '
                        f'{one_line(err)}') from err
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.results))
    os.makedirs(out_dir, exist_ok=True)
    chart = osp.join(out_dir, 'class_iou.png')
    plot_class_iou(bars, args.threshold, chart)
    print(f'per-class IoU chart: {chart}')
    ranked = sorted(episodes, key=lambda r: (episode_iou(r), r['episode_idx']))
    num = min(args.num, len(ranked))
    worst, best = ranked[:num], ranked[::-1][:num]
    for name, recs in (('worst', worst), ('best', best)):
        listed = ', '.join(f"{r['episode_idx']} ({episode_iou(r):.1f})"
                           for r in recs)
        print(f'{name} episodes (IoU): {listed}')
        if args.show_dir is not None:
            path = osp.join(out_dir, f'{name}_episodes.png')
            draw_gallery(recs, args.show_dir, f'{name} {num} episodes', path)
            print(f'{name} episodes gallery: {path}')
    weak = [(n, m) for n, m, _, _ in bars if m < args.threshold]
    print(f'{len(weak)} of {len(bars)} classes below IoU {args.threshold:g}' +
          (': ' + ', '.join(f'{n} ({m:.1f})'
                            for n, m in weak) if weak else ''))


if __name__ == '__main__':
    run_cli(main)
