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
import os
import os.path as osp

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

import hsnet_mm  # noqa: F401  (registers the hsnet-mm components)
import hsnet_mm.engine  # noqa: F401  (registers hooks and optim wrappers)
from hsnet_mm.engine import pick_resume_checkpoint
from hsnet_mm.utils import (apply_global_batch_size,
                            drop_persistent_workers_without_workers,
                            exit_on_unknown_keys, init_cpu_dist_if_needed,
                            launcher_world_size, register_safe_globals,
                            setup_cfg_for_launcher)


def parse_args():
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
    # torch.distributed.launch passes --local-rank (torch >= 2.0);
    # torchrun sets LOCAL_RANK instead.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def enable_amp(cfg: Config) -> None:
    """Switch the optimizer wrapper to mixed precision for this device."""
    optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
    amp_types = ('AmpOptimWrapper', 'CPUAutocastOptimWrapper')
    if optim_wrapper in amp_types:
        print_log(
            'AMP training is already enabled in your config.',
            logger='current',
            level=logging.WARNING)
        return
    if optim_wrapper != 'OptimWrapper':
        raise ValueError('--amp is only supported when the optimizer wrapper '
                         f'type is OptimWrapper, but got {optim_wrapper}')
    if torch.cuda.is_available():
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    else:
        cfg.optim_wrapper.type = 'CPUAutocastOptimWrapper'
        cfg.optim_wrapper.dtype = 'bfloat16'
        print_log(
            '--amp without CUDA: training under CPU bfloat16 autocast '
            '(CPUAutocastOptimWrapper); float16 AMP needs CUDA.',
            logger='current',
            level=logging.WARNING)


def main():
    args = parse_args()

    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    exit_on_unknown_keys(cfg, args.cfg_options)  # typos, before any work
    # gloo and a DDP wrapper without device_ids when there is no CUDA
    cfg = setup_cfg_for_launcher(cfg, args.launcher)

    # work_dir is determined in this priority: CLI > segment in file > filename
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        enable_amp(cfg)
    # the paper's total batch, whatever the number of processes
    per_process = apply_global_batch_size(cfg,
                                          launcher_world_size(args.launcher))
    if per_process is not None:
        print(
            f'global batch {cfg.global_batch_size} = '
            f'{launcher_world_size(args.launcher)} process(es) x '
            f'{per_process} episodes',
            flush=True)
    drop_persistent_workers_without_workers(cfg)
    cfg.resume = args.resume
    if args.resume and cfg.get('load_from') is None:  # newest valid one
        cfg.load_from = pick_resume_checkpoint(cfg.work_dir)

    # torch >= 2.6 loads with weights_only=True: allow-list Runner objects
    register_safe_globals()
    # a CPU `pytorch` launch starts gloo itself (mmengine would call
    # torch.cuda.set_device); the Runner then skips its own init_dist
    init_cpu_dist_if_needed(
        args.launcher,
        cfg.get('env_cfg', {}).get('dist_cfg', {}).get('timeout'))

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
