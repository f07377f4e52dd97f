# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Plot the training loss and the val mIoU of a run over iterations.

Reads mmengine's scalar log ``<work_dir>/<timestamp>/vis_data/scalars.json``
(written by ``LocalVisBackend``) of the latest run, or of every run of the
work dir with ``--all-runs`` (a resumed training continues in a new
timestamp folder)::

    python tools/analysis_tools/plot_curves.py \
        work_dirs/hsnet_r50_pascal5i_fold0_1shot --out curves.png
"""
import argparse
import glob
import json
import os.path as osp
from typing import Dict, List, Tuple

import matplotlib

matplotlib.use('Agg')  # no display needed; before pyplot is imported
import matplotlib.pyplot as plt  # noqa: E402

from hsnet_mm.utils import UserError, run_cli  # noqa: E402

Series = Dict[str, List[Tuple[int, float]]]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot training loss and val mIoU of an mmengine run')
    parser.add_argument(
        'work_dir',
        help='the run\'s work dir (or a <timestamp> folder in it, or a '
        'scalars.json file)')
    parser.add_argument(
        '--out', help='output PNG (default: <work_dir>/curves.png)')
    parser.add_argument(
        '--all-runs',
        action='store_true',
        help='join the logs of every run in the work dir (resumed training)'
        ' instead of reading the latest one only')
    return parser.parse_args(argv)


def find_scalar_logs(path: str, all_runs: bool = False) -> List[str]:
    """The scalars.json file(s) of ``path``, oldest first.

    Raises:
        FileNotFoundError: ``path`` holds no scalar log.
    """
    if osp.isfile(path):
        return [path]
    logs = glob.glob(osp.join(path, 'vis_data', 'scalars.json'))
    if not logs:
        # timestamps (YYYYmmdd_HHMMSS) sort as they were created
        logs = sorted(
            glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not logs:
        raise FileNotFoundError(
            f'no scalar log (*/vis_data/scalars.json) under {path}: is it '
            'the work dir of a training run with LocalVisBackend?')
    return logs if all_runs else logs[-1:]


def read_series(logs: List[str]) -> Series:
    """Training loss and val metrics as ``{name: [(step, value), ...]}``.

    Later logs override the steps of earlier ones (a resumed run repeats
    none, but a restarted one may).
    """
    series: Dict[str, Dict[int, float]] = {
        'loss': {},
        'mIoU': {},
        'FB-IoU': {}
    }
    for log in logs:
        with open(log) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                record = json.loads(line)
                step = record.get('step', record.get('iter'))
                if step is None:
                    continue
                for key in series:
                    if key in record:
                        series[key][int(step)] = float(record[key])
    return {k: sorted(v.items()) for k, v in series.items()}


def plot(series: Series, out: str, title: str) -> None:
    """Draw loss (left) and val mIoU / FB-IoU (right) into ``out``."""
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    if series['loss']:
        ax_loss.plot(*zip(*series['loss']), lw=1, label='loss')
    ax_loss.set(xlabel='iteration', ylabel='training loss', title='loss')
    ax_loss.grid(alpha=0.3)
    for key, style in (('mIoU', 'o-'), ('FB-IoU', 's--')):
        if series[key]:
            ax_val.plot(*zip(*series[key]), style, ms=3, label=key)
    if series['mIoU']:
        step, best = max(series['mIoU'], key=lambda s: s[1])
        ax_val.annotate(
            f'best {best:.2f}', (step, best),
            textcoords='offset points',
            xytext=(0, 8),
            ha='center')
        ax_val.legend()
    ax_val.set(xlabel='iteration', ylabel='%', title='validation')
    ax_val.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None) -> int:
    args = parse_args(argv)
    logs = find_scalar_logs(args.work_dir, args.all_runs)
    series = read_series(logs)
    if not series['loss'] and not series['mIoU']:
        raise UserError(f'{", ".join(logs)} holds no loss or mIoU record')
    out = args.out
    if out is None:
        root = args.work_dir if osp.isdir(args.work_dir) else osp.dirname(
            args.work_dir)
        out = osp.join(root, 'curves.png')
    run_dir = osp.dirname(osp.dirname(osp.abspath(logs[-1])))
    title = osp.join(osp.basename(osp.dirname(run_dir)), osp.basename(run_dir))
    plot(series, out, title)
    print(f'{len(series["loss"])} loss and {len(series["mIoU"])} mIoU '
          f'records from {len(logs)} log(s) -> {out}')
    return 0


if __name__ == '__main__':
    run_cli(main)
