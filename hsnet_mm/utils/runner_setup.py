# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""What ``tools/train.py`` and ``tools/test.py`` share: the launcher
arguments, loading a config for a launcher, and starting a Runner; and what
``tools/test.py`` changes in a config.

A tool is then::

    parser = argparse.ArgumentParser()
    parser.add_argument('config')
    add_runner_args(parser)
    args = parse_runner_args(parser)
    cfg = load_config(args.config, args.cfg_options, args.launcher,
                      args.work_dir)
    ...  # the tool's own changes to cfg, e.g. setup_test_cfg(cfg, ...)
    runner = build_runner(cfg)

The checks raise user errors (:mod:`hsnet_mm.utils.cli`): a tool run by
``run_cli`` prints them on one line.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Any, Dict, Optional, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmseg.registry import DATASETS, RUNNERS

from .autocast import resolve_amp_dtype
from .checkpoint import check_checkpoint, check_load_from
from .cli import UserError, one_line
from .collect_env import format_environment, result_environment
from .config import (drop_persistent_workers_without_workers,
                     use_original_size_protocol)
from .config_check import check_config_keys, check_option_types
from .dist import init_cpu_dist_if_needed, setup_cfg_for_launcher
from .fileio import check_writable, check_writable_dirs
from .pretrained import PretrainedWeightsHook
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


def read_config(config: str,
                cfg_options: Optional[Dict[str, Any]] = None) -> Config:
    """Read a config file and merge ``--cfg-options`` into it.

    Refuses, before any work, a missing or unparsable file, an override
    whose type differs from the config's value
    (:func:`check_option_types`) and unknown keys
    (:func:`check_config_keys`).

    Args:
        config (str): The config file.
        cfg_options (dict, optional): ``--cfg-options``. Defaults to None.

    Returns:
        mmengine.Config: The config.

    Raises:
        FileNotFoundError: no such file.
        UserError: a syntax error in the file, a wrong-typed override
            (:class:`ConfigValueTypeError`) or an unknown key
            (:class:`UnknownConfigKeyError`).
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file not found: {config}')
    try:
        cfg = Config.fromfile(config)
    except SyntaxError as e:
        line = f' (line {e.lineno})' if e.lineno else ''
        raise UserError(
            f'config {config} has a syntax error{line}: {e.msg}') from e
    if cfg_options:
        check_option_types(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    check_config_keys(cfg, cfg_options)
    return cfg


def load_config(config: str,
                cfg_options: Optional[Dict[str, Any]] = None,
                launcher: str = 'none',
                work_dir: Optional[str] = None) -> Config:
    """Read a config and prepare it for ``launcher``.

    Merges ``cfg_options`` (:func:`read_config`: typos, unknown keys and
    wrong-typed values are refused first), sets the launcher (gloo and a DDP
    wrapper without ``device_ids`` on CPU-only machines, see
    :func:`setup_cfg_for_launcher`), chooses ``work_dir`` (argument >
    config > ``./work_dirs/<config name>``) and turns off persistent workers
    of loaders without workers.

    Args:
        config (str): The config file.
        cfg_options (dict, optional): ``--cfg-options``. Defaults to None.
        launcher (str): The job launcher. Defaults to 'none'.
        work_dir (str, optional): ``--work-dir``. Defaults to None.

    Returns:
        mmengine.Config: The config.
    """
    cfg = read_config(config, cfg_options)
    cfg = setup_cfg_for_launcher(cfg, launcher)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    drop_persistent_workers_without_workers(cfg)
    return cfg


def build_runner(cfg: Config, for_training: bool = False) -> Runner:
    """Start the process group if needed and build the Runner of ``cfg``.

    Allow-lists the Runner's checkpoint globals (PyTorch >= 2.6 loads with
    ``weights_only=True``) and, for a CPU ``pytorch`` launch, starts gloo
    itself (mmengine would call ``torch.cuda.set_device``); the Runner then
    skips its own ``init_dist``. ``cfg.runner_type`` selects a registered
    runner class, as in mmseg. The log then records the versions and the
    device that decide the numbers (:func:`result_environment`).

    For training, the ImageNet weights that the model's ``Pretrained``
    ``init_cfg`` loads by URL are looked for (and downloaded if missing,
    :func:`check_pretrained_weights`) right before ``Runner.train`` loads
    them (:class:`PretrainedWeightsHook`, after the data is built): a node
    without internet then ends on one line naming the URL and the path
    for the file, not on urllib's traceback. ``Runner.test`` does not load
    them (the checkpoint holds the backbone). A ``load_from`` checkpoint
    must fit the model (:func:`check_load_from`; ``tools/test.py`` checks
    its checkpoint in :func:`setup_test_cfg`).

    Args:
        cfg (mmengine.Config): A config from :func:`load_config`.
        for_training (bool): The Runner will train. Defaults to False.

    Returns:
        Runner: The runner.
    """
    register_safe_globals()
    if for_training:
        check_load_from(cfg)
    init_cpu_dist_if_needed(
        cfg.get('launcher', 'none'),
        (cfg.get('env_cfg') or {}).get('dist_cfg', {}).get('timeout'))
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    if for_training:
        runner.register_hook(PretrainedWeightsHook(cfg))
    print_log(
        'result environment: ' + format_environment(result_environment()),
        logger=runner.logger)
    return runner


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


def set_output_file(cfg: Config, out: str) -> None:
    """Make the FewShotMetric(s) of ``test_evaluator`` write ``out``.

    Raises:
        UserError: ``test_evaluator`` has no FewShotMetric.
    """
    evaluator = cfg.test_evaluator
    metrics = evaluator if isinstance(evaluator, list) else [evaluator]
    metrics = [m for m in metrics if m.get('type') == 'FewShotMetric']
    if not metrics:
        raise UserError('--out needs a FewShotMetric in test_evaluator')
    for metric in metrics:
        metric['output_file'] = out


def use_episode_visualization(cfg: Config, show_dir: str) -> None:
    """Draw one PNG per test episode into ``show_dir``
    (``EpisodeVisualizationHook``, keeping the config's settings of one)."""
    vis = cfg.default_hooks.get('visualization')
    if vis is None or vis.get('type') != 'EpisodeVisualizationHook':
        vis = dict(type='EpisodeVisualizationHook')
    vis.update(draw=True, out_dir=show_dir)
    cfg.default_hooks.visualization = vis


def use_episode_progress_bar(cfg: Config) -> None:
    """Show a progress bar instead of the periodic ``Iter(test) [i/n]`` log
    lines, which would break it; the final metrics line is still logged."""
    cfg.custom_hooks = list(cfg.get(
        'custom_hooks', [])) + [dict(type='EpisodeProgressBarHook')]
    if cfg.default_hooks.get('logger') is not None:
        cfg.default_hooks.logger.interval = sys.maxsize


def build_split_dataset(cfg: Config, split: str = 'test') -> Any:
    """Build the dataset of ``cfg.<split>_dataloader``, naming the reason
    when the config's data cannot make one (missing data, a shot count
    larger than a class's images allow, unknown classes...).

    Args:
        cfg (mmengine.Config): The config.
        split (str): 'train', 'val' or 'test'. Defaults to 'test'.

    Returns:
        The dataset.

    Raises:
        UserError: no such dataloader, or the dataset cannot be built.
    """
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise UserError(f'config {cfg.filename} has no {split}_dataloader')
    try:
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'mmseg')):
            return DATASETS.build(loader['dataset'])
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise UserError(f'{split} dataset: {one_line(err)}') from err


def check_test_dataset(cfg: Config) -> None:
    """Build the test dataset once, so that an impossible episode set
    fails before the Runner writes a file (:func:`build_split_dataset`).
    The build reads only the split lists, no image.

    Raises:
        UserError: the dataset cannot be built from the config, with the
            reason.
    """
    build_split_dataset(cfg, 'test')


def setup_test_cfg(cfg: Config,
                   checkpoint: str,
                   out: Optional[str] = None,
                   show_dir: Optional[str] = None,
                   shot: Optional[int] = None,
                   original_size: bool = False,
                   episodes: Optional[int] = None,
                   seeds: Optional[Sequence[int]] = None,
                   amp: Optional[str] = None) -> None:
    """Prepare a config for ``tools/test.py``, refusing bad input before
    anything is written.

    Checks that the outputs can be written and that ``checkpoint`` loads
    strictly into the model (the Runner would only warn and score a partly
    random model; the check builds the model on the meta device, the Runner
    builds it once; ``load_from_partial=True`` allows a mismatch, with a
    warning), applies the options, builds the test dataset once
    (:func:`check_test_dataset`), and adds the episode pictures and the
    progress bar.

    Args:
        cfg (mmengine.Config): A config from :func:`load_config`, changed
            in place.
        checkpoint (str): The weights to test.
        out (str, optional): ``--out``: the per-episode JSON (one run; with
            ``seeds`` the tool writes the seeds' file). Defaults to None.
        show_dir (str, optional): ``--show-dir``: one PNG per episode.
            Defaults to None.
        shot (int, optional): The number of supports. Defaults to None
            (the config's).
        original_size (bool): Evaluate at the original query size.
            Defaults to False.
        episodes (int, optional): The number of test episodes. Defaults to
            None (the config's).
        seeds (Sequence[int], optional): Test once per episode seed
            (:func:`use_multi_seed_test`). Defaults to None.
        amp (str, optional): Run the model under autocast in this dtype
            (``'auto'``, ``'float16'`` or ``'bfloat16'``; the model's
            ``test_cfg.amp_dtype``). Defaults to None.

    Raises:
        UserError: an unwritable output, a missing or mismatching
            checkpoint, or an impossible test dataset, with the reason.
    """
    check_writable(out)
    check_writable_dirs(show_dir, cfg.work_dir)
    check_checkpoint(cfg, checkpoint)
    cfg.load_from = checkpoint
    if shot is not None:
        cfg.test_dataloader.dataset.shot = shot
    if original_size:
        use_original_size_protocol(cfg)
    if episodes is not None:
        cfg.test_dataloader.dataset.num_episodes = episodes
    if seeds is not None:
        use_multi_seed_test(cfg, seeds)
    if amp is not None:  # refused now, not after the model is loaded
        resolve_amp_dtype(amp, 'cuda' if torch.cuda.is_available() else 'cpu')
        cfg.model.test_cfg = dict(
            cfg.model.get('test_cfg') or {}, amp_dtype=amp)
    check_test_dataset(cfg)
    if out is not None and seeds is None:
        set_output_file(cfg, out)
    if show_dir is not None:
        use_episode_visualization(cfg, show_dir)
    use_episode_progress_bar(cfg)
