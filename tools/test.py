# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Test an HSNet model on few-shot episodes (mmseg's ``tools/test.py``).

Examples::

    python tools/test.py configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py \
        work_dirs/hsnet_r50_pascal5i_fold0_1shot/best_mIoU_epoch_1.pth \
        --shot 5 --out results.json --show-dir vis
    bash tools/dist_test.sh CONFIG CHECKPOINT 4 --shot 5
    # the spread over episode sets: 5 seeds of 1000 episodes
    python tools/test.py CONFIG CHECKPOINT --seeds 0 1 2 3 4 --episodes 1000

Prints a progress bar and ends with the summary line
``mIoU: xx.xx  FB-IoU: xx.xx  (N episodes, K-shot, fold f)``; with
``--seeds``, one line per seed, the per-class IoU spread and last
``mean over S seeds: mIoU: m +/- s (95% CI lo-hi)  FB-IoU: ...``.
"""
import argparse
import sys

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS

import hsnet_mm  # noqa: F401  (registers the hsnet-mm components)
from hsnet_mm.evaluation.functional import format_seed_report, format_summary
from hsnet_mm.utils import (CheckpointMismatchError, add_runner_args,
                            atomic_dump_json, build_runner, check_checkpoint,
                            check_writable, destroy_dist_if_initialized,
                            load_config, parse_runner_args,
                            use_multi_seed_test, use_original_size_protocol)


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
        'and union) to re-score offline; with --seeds, every seed\'s scores, '
        'per-class IoU and episodes plus their mean, std and CI')
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
        '--seeds',
        type=int,
        nargs='+',
        help='test once per episode seed (model and data loaded once) and '
        'report each, their mean +/- std and a 95%% t-interval; seed 0 of '
        'the official sampler with 1000 episodes is the official replay')
    parser.add_argument(
        '--episodes',
        type=int,
        help='number of test episodes, e.g. 1000 / 5000 / 10000 '
        '(default: the config\'s)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='run the model under autocast (CUDA: float16; CPU: bfloat16)')
    add_runner_args(parser)
    args = parse_runner_args(parser)
    if args.shot is not None and args.shot < 1:
        parser.error(f'--shot must be >= 1, got {args.shot}')
    if args.out is not None and not args.out.endswith('.json'):
        parser.error(f'--out must be a .json file, got {args.out}')
    if args.episodes is not None and args.episodes < 1:
        parser.error(f'--episodes must be >= 1, got {args.episodes}')
    if args.seeds is not None:
        if min(args.seeds) < 0 or len(set(args.seeds)) != len(args.seeds):
            parser.error(f'--seeds must be distinct non-negative ints, got '
                         f'{args.seeds}')
        if args.show_dir is not None and len(args.seeds) > 1:
            parser.error('--show-dir draws one PNG per episode index: use '
                         'it with one seed at a time')
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
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    # refuse a missing or mismatching checkpoint before writing anything
    # (the Runner would only warn and score a partly random model); the
    # check builds the model on the meta device, the Runner builds it once
    try:
        check_writable(args.out, args.show_dir, cfg.work_dir)
        check_checkpoint(cfg, args.checkpoint)
    except (OSError, CheckpointMismatchError, ValueError) as err:
        sys.exit(f'error: {err}')
    cfg.load_from = args.checkpoint

    if args.shot is not None:
        cfg.test_dataloader.dataset.shot = args.shot
    if args.original_size:
        use_original_size_protocol(cfg)
    if args.episodes is not None:
        cfg.test_dataloader.dataset.num_episodes = args.episodes
    if args.seeds is not None:
        use_multi_seed_test(cfg, args.seeds)
    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    # an impossible episode set (missing data, a shot count larger than a
    # class's images allow...) fails here, before the Runner writes a file;
    # this build reads only the split lists, no image
    try:
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'mmseg')):
            DATASETS.build(cfg.test_dataloader.dataset)
    except (FileNotFoundError, ValueError, KeyError) as err:
        sys.exit(f'error: test dataset: {err}')
    if args.out is not None and args.seeds is None:
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

    runner = build_runner(cfg)
    metrics = runner.test()

    if is_main_process():
        dataset = runner.test_dataloader.dataset
        # datasets without folds (FSS-1000, folders) print no fold
        folds = getattr(dataset, 'num_folds', 1)
        fold = dataset.metainfo.get('fold') if folds > 1 else None
        shot = getattr(dataset, 'shot', None)
        if args.seeds is None:
            print(
                format_summary(metrics, len(dataset), shot, fold), flush=True)
            return
        loop = runner.test_loop
        if args.out is not None:
            atomic_dump_json(
                args.out,
                dict(
                    config=args.config,
                    checkpoint=args.checkpoint,
                    num_episodes=len(dataset),
                    shot=shot,
                    fold=None if fold is None else int(fold),
                    episode_sampling=getattr(dataset, 'episode_sampling',
                                             None),
                    summary=loop.summary,
                    runs=loop.runs))
        context = format_summary(metrics, len(dataset), shot, fold)
        context = '  ' + context[context.index('('):]
        print(
            '\n'.join(
                format_seed_report(loop.runs, loop.summary, context=context)),
            flush=True)


if __name__ == '__main__':
    main()
    destroy_dist_if_initialized()  # after success only (see its docstring)
