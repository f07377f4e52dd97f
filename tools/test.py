# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Test an HSNet model on few-shot episodes (mmseg's ``tools/test.py``).

Examples::

    python tools/test.py configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py \
        work_dirs/hsnet_r50_pascal5i_fold0_1shot/best_mIoU_epoch_1.pth \
        --shot 5 --out results.json --show-dir vis
    bash tools/dist_test.sh CONFIG CHECKPOINT 4 --shot 5

Prints a progress bar and ends with the summary line
``mIoU: xx.xx  FB-IoU: xx.xx  (N episodes, K-shot, fold f)``.
"""
import argparse
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmseg.registry import DATASETS

import hsnet_mm  # noqa: F401  (registers the hsnet-mm components)
from hsnet_mm.evaluation import format_summary
from hsnet_mm.utils import (CheckpointMismatchError, check_checkpoint,
                            drop_persistent_workers_without_workers,
                            init_cpu_dist_if_needed, register_safe_globals,
                            setup_cfg_for_launcher, use_original_size_protocol)


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) an HSNet model on episodes')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the dir to save logs; default ./work_dirs/<cfg>')
    parser.add_argument(
        '--out',
        help='JSON file of per-episode results (names, class, intersection '
        'and union) to re-score offline')
    parser.add_argument(
        '--show-dir', help='directory where one PNG per episode is saved')
    parser.add_argument(
        '--shot',
        type=int,
        help='number of support images K (default: the config\'s)')
    parser.add_argument(
        '--original-size',
        action='store_true',
        help='evaluate at the original query size (the official '
        '--use_original_imgsize protocol) instead of the network input size')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or key=a,b '
        'It also allows nested list/tuple values, e.g. key="[(a,b),(c,d)]" '
        'Note that the quotation marks are necessary and that no white space '
        'is allowed.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.shot is not None and args.shot < 1:
        parser.error(f'--shot must be >= 1, got {args.shot}')
    if args.out is not None and not args.out.endswith('.json'):
        parser.error(f'--out must be a .json file, got {args.out}')
    return args


def set_output_file(cfg: Config, out: str) -> None:
    """Make the FewShotMetric(s) of ``test_evaluator`` write ``out``."""
    evaluator = cfg.test_evaluator
    metrics = evaluator if isinstance(evaluator, list) else [evaluator]
    metrics = [m for m in metrics if m.get('type') == 'FewShotMetric']
    if not metrics:
        raise ValueError('--out needs a FewShotMetric in test_evaluator')
    for metric in metrics:
        metric['output_file'] = out


def main():
    args = parse_args()

    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg = setup_cfg_for_launcher(cfg, args.launcher)

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    # refuse a missing or mismatching checkpoint before writing anything
    # (the Runner would only warn and score a partly random model)
    register_safe_globals()
    try:
        check_checkpoint(cfg, args.checkpoint)
    except (FileNotFoundError, CheckpointMismatchError, ValueError) as err:
        sys.exit(f'error: {err}')
    cfg.load_from = args.checkpoint

    if args.shot is not None:
        cfg.test_dataloader.dataset.shot = args.shot
    if args.original_size:
        use_original_size_protocol(cfg)
    drop_persistent_workers_without_workers(cfg)
    # an impossible episode set (missing data, a shot count larger than a
    # class's images allow...) fails here, before the Runner writes a file
    try:
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'mmseg')):
            DATASETS.build(cfg.test_dataloader.dataset)
    except (FileNotFoundError, ValueError, KeyError) as err:
        sys.exit(f'error: test dataset: {err}')
    if args.out is not None:
        set_output_file(cfg, args.out)
    if args.show_dir is not None:
        vis = cfg.default_hooks.get('visualization')
        if vis is None or vis.get('type') != 'EpisodeVisualizationHook':
            vis = dict(type='EpisodeVisualizationHook')
        vis.update(draw=True, out_dir=args.show_dir)
        cfg.default_hooks.visualization = vis
    # the progress bar replaces the periodic "Iter(test) [i/n]" log lines,
    # which would break it; the final metrics line is still logged
    cfg.custom_hooks = list(cfg.get(
        'custom_hooks', [])) + [dict(type='EpisodeProgressBarHook')]
    if cfg.default_hooks.get('logger') is not None:
        cfg.default_hooks.logger.interval = sys.maxsize

    init_cpu_dist_if_needed(
        args.launcher,
        cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout'))
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()

    if is_main_process():
        dataset = runner.test_dataloader.dataset
        # datasets without folds (FSS-1000, folders) print no fold
        folds = getattr(dataset, 'num_folds', getattr(dataset, 'NUM_FOLDS', 1))
        print(
            format_summary(
                metrics, len(dataset), getattr(dataset, 'shot', None),
                dataset.metainfo.get('fold') if folds > 1 else None),
            flush=True)


if __name__ == '__main__':
    main()
