# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Train an HSNet model (mmseg's ``tools/train.py`` plus CPU support).

Examples::

    python tools/train.py configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py
    bash tools/dist_train.sh configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py 4

Without CUDA, distributed runs use gloo on the CPU and ``--amp`` trains
under bfloat16 autocast (``CPUAutocastOptimWrapper``).
"""
import argparse
import logging

import torch
from mmengine.config import Config
from mmengine.logging import print_log

import hsnet_mm  # noqa: F401  (registers every hsnet-mm component)
from hsnet_mm.engine import pick_resume_checkpoint
from hsnet_mm.utils import (UserError, add_runner_args,
                            apply_global_batch_size, build_runner, finish_run,
                            launcher_world_size, load_config,
                            parse_runner_args, run_cli)
from hsnet_mm.utils.autocast import AMP_DTYPES, resolve_amp_dtype
from hsnet_mm.utils.fileio import check_writable_dirs


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train an HSNet model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (CUDA: float16 with '
        'dynamic loss scaling; CPU: bfloat16 autocast)')
    parser.add_argument(
        '--amp-dtype',
        choices=AMP_DTYPES,
        help='with --amp: the autocast dtype (default auto: float16 on '
        'CUDA, bfloat16 on a CPU, which supports only bfloat16)')
    add_runner_args(parser)
    args = parse_runner_args(parser, argv)
    if args.amp_dtype is not None and not args.amp:
        parser.error('--amp-dtype goes with --amp')
    return args


def enable_amp(cfg: Config, dtype: str = 'auto') -> None:
    """Switch the optimizer wrapper to mixed precision for this device.

    CUDA: ``AmpOptimWrapper`` with dynamic loss scaling (float16: steps
    whose gradients overflow are skipped and the scale lowered; bfloat16
    needs no scaling but gets the same checks); CPU: bfloat16 autocast
    (``CPUAutocastOptimWrapper``).
    """
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    amp_types = ('AmpOptimWrapper', 'CPUAutocastOptimWrapper')
    if optim_wrapper in amp_types:
        print_log(
            'AMP training is already enabled in your config.',
            logger='current',
            level=logging.WARNING)
        return
    if optim_wrapper != 'OptimWrapper':
        raise UserError('--amp is only supported when the optimizer wrapper '
                        f'type is OptimWrapper, but got {optim_wrapper}')
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    amp_dtype = str(resolve_amp_dtype(dtype, device)).split('.')[-1]
    if device == 'cuda':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
        cfg.optim_wrapper.dtype = amp_dtype
    else:
        cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'
        print_log(
            '--amp without CUDA: training under CPU bfloat16 autocast '
            '(CPUAutocastOptimWrapper); float16 AMP needs CUDA.',
            logger='current',
            level=logging.WARNING)


def main(argv=None):
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    # a file named like it or a read-only folder: refused before the Runner
    # builds anything (it would fail on its first log or checkpoint)
    check_writable_dirs(cfg.work_dir)
    if args.amp:
        enable_amp(cfg, args.amp_dtype or 'auto')
    # the paper's total batch, whatever the number of processes
    world_size = launcher_world_size(args.launcher)
    per_process = apply_global_batch_size(cfg, world_size)
    if per_process is not None:
        print(
            f'global batch {cfg.global_batch_size} = {world_size} '
            f'process(es) x {per_process} episodes',
            flush=True)
    cfg.resume = args.resume
    if args.resume and cfg.get('load_from') is None:  # newest valid one
        cfg.load_from = pick_resume_checkpoint(cfg.work_dir)
    build_runner(cfg, for_training=True).train()
    finish_run()  # after success only (see its docstring)


if __name__ == '__main__':
    run_cli(main)
