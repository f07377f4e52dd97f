# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""What ``tools/train.py`` and ``tools/test.py`` share: the launcher
arguments, loading a config for a launcher, and starting a Runner.

A tool is then::

    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_runner_args(parser)
    args = parse_runner_args(parser)
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    ...  # the tool's own changes to cfg
    runner = build_runner(cfg)
"""
import argparse
import os
import os.path as osp
from typing import Any, Dict, Optional, Sequence

from mmengine.config import Config, DictAction
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from .config import drop_persistent_workers_without_workers
from .config_check import exit_on_unknown_keys
from .dist import init_cpu_dist_if_needed, setup_cfg_for_launcher
from .safe_globals import register_safe_globals


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """Add ``--cfg-options``, ``--launcher`` and ``--local-rank``."""
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


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[list] = None) -> argparse.Namespace:
    """Parse the arguments and export ``LOCAL_RANK`` for mmengine."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def load_config(config: str,
                cfg_options: Optional[Dict[str, Any]] = None,
                launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """Read a config and prepare it for ``launcher``.

    Merges ``cfg_options``, sets the launcher (gloo and a DDP wrapper
    without ``device_ids`` on CPU-only machines, see
    :func:`setup_cfg_for_launcher`), chooses ``work_dir`` (argument >
    config > ``./work_dirs/<config name>``) and turns off persistent workers
    of loaders without workers. Unknown config keys (a typo in the file or
    in ``cfg_options``) exit with a clear message first.

    Args:
        config (str): The config file.
        cfg_options (dict, optional): ``--cfg-options``. Defaults to None.
        launcher (str): The job launcher. Defaults to 'none'.
        work_dir (str, optional): ``--work-dir``. Defaults to None.

    Returns:
        mmengine.Config: The config.
    """
    cfg = Config.fromfile(config)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    exit_on_unknown_keys(cfg, cfg_options)  # typos, before any work
    cfg = setup_cfg_for_launcher(cfg, launcher)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    drop_persistent_workers_without_workers(cfg)
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Start the process group if needed and build the Runner of ``cfg``.

    Allow-lists the Runner's checkpoint globals (PyTorch >= 2.6 loads with
    ``weights_only=True``) and, for a CPU ``pytorch`` launch, starts gloo
    itself (mmengine would call ``torch.cuda.set_device``); the Runner then
    skips its own ``init_dist``. ``cfg.runner_type`` selects a registered
    runner class, as in mmseg.

    Args:
        cfg (mmengine.Config): A config from :func:`load_config`.

    Returns:
        Runner: The runner.
    """
    register_safe_globals()
    init_cpu_dist_if_needed(
        cfg.get('launcher', 'none'),
        (cfg.get('env_cfg') or {}).get('dist_cfg', {}).get('timeout'))
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def use_multi_seed_test(cfg: Config, seeds: Sequence[int]) -> None:
    """Test once per episode seed with :class:`MultiSeedTestLoop`.

    Keeps ``test_cfg``'s ``fp16``, starts the dataset at the first seed and
    turns off persistent workers, which would keep the first seed's
    episodes.

    Args:
        cfg (mmengine.Config): The config, changed in place.
        seeds (Sequence[int]): The episode seeds.
    """
    test_cfg = cfg.get('test_cfg') or {}
    cfg.test_cfg = dict(
        type='MultiSeedTestLoop',
        seeds=[int(s) for s in seeds],
        fp16=test_cfg.get('fp16', False))
    cfg.test_dataloader.dataset.episode_seed = int(seeds[0])
    cfg.test_dataloader.persistent_workers = False
