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

Memory: the test loop (``EpisodeTestLoop``, or ``MultiSeedTestLoop``)
holds one batch at a time, its ground truths as uint8, and the metric
counts in bands, so ``--original-size`` on a 12000 x 12000 query stays
under 2 GB (docs/inference.md, "Memory").
"""
import argparse

from mmengine.dist import is_main_process

import hsnet_mm  # noqa: F401  (registers the hsnet-mm components)
from hsnet_mm.engine import (dump_seed_results, format_test_report,
                             is_multi_seed)
from hsnet_mm.utils import (add_runner_args, build_runner, finish_run,
                            load_config, parse_runner_args, run_cli,
                            setup_test_cfg)
from hsnet_mm.utils.autocast import AMP_DTYPES


def parse_args(argv=None):
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
    parser.add_argument(
        '--amp-dtype',
        choices=AMP_DTYPES,
        help='with --amp: the autocast dtype (default auto: float16 on '
        'CUDA, bfloat16 on a CPU, which supports only bfloat16)')
    add_runner_args(parser)
    args = parse_runner_args(parser, argv)
    if args.amp_dtype is not None and not args.amp:
        parser.error('--amp-dtype goes with --amp')
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


def use_episode_test_loop(cfg) -> None:
    """mmengine's ``TestLoop`` -> ``EpisodeTestLoop`` (the same loop, one
    batch in memory at a time); other loops are kept."""
    loop = dict(cfg.get('test_cfg') or {})
    if loop.get('type', 'TestLoop') in ('TestLoop', 'mmengine.TestLoop'):
        cfg.test_cfg = dict(loop, type='EpisodeTestLoop')


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    setup_test_cfg(
        cfg,
        args.checkpoint,
        out=args.out,
        show_dir=args.show_dir,
        shot=args.shot,
        original_size=args.original_size,
        episodes=args.episodes,
        seeds=args.seeds,
        amp=(args.amp_dtype or 'auto') if args.amp else None)
    use_episode_test_loop(cfg)
    runner = build_runner(cfg)
    metrics = runner.test()
    if is_main_process():
        if args.out is not None and is_multi_seed(runner):
            dump_seed_results(args.out, runner, args.config, args.checkpoint)
        print(format_test_report(runner, metrics), flush=True)
    finish_run()  # after success only (see its docstring)


if __name__ == '__main__':
    run_cli(main)
