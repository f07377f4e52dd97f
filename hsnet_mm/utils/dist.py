# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Distributed runs on CPU-only PyTorch builds (gloo).

mmengine 0.10.7's ``pytorch`` launcher calls ``torch.cuda.set_device`` before
``init_process_group``; a CPU build of PyTorch raises there. The tools
therefore call, before building the Runner::

    cfg = setup_cfg_for_launcher(cfg, args.launcher)
    init_cpu_dist_if_needed(
        args.launcher, cfg.env_cfg.get('dist_cfg', {}).get('timeout'))
    runner = Runner.from_cfg(cfg)

On CPU, the first sets the gloo backend and a DDP wrapper without
``device_ids``; the second initialises the default process group from
torchrun's environment, so ``Runner.setup_env`` finds it initialised and skips
its own ``init_dist``. With CUDA both leave mmengine's usual path alone.
"""
import logging
import os
import sys
from datetime import timedelta
from typing import Any, Dict, Optional

import torch
import torch.distributed as torch_dist

from .cli import UserError

#: Environment variables that torchrun sets and the gloo init reads.
TORCHRUN_ENV_VARS = ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')


def _cpu_distributed(launcher: str) -> bool:
    """Whether ``launcher`` asks for a distributed run without CUDA."""
    return launcher != 'none' and not torch.cuda.is_available()


def init_cpu_dist_if_needed(launcher: str,
                            timeout: Optional[float] = None) -> bool:
    """Initialise ``torch.distributed`` with gloo for a CPU ``pytorch`` run.

    Does nothing unless ``launcher == 'pytorch'``, CUDA is unavailable and no
    process group exists yet.

    Args:
        launcher (str): The job launcher: 'none', 'pytorch', 'slurm' or
            'mpi'.
        timeout (float, optional): Seconds a collective may wait, as
            ``env_cfg.dist_cfg.timeout``. Defaults to None (PyTorch's).

    Returns:
        bool: True when this call initialised the process group.

    Raises:
        RuntimeError: ``torch.distributed`` is not available in this build.
        UserError: a torchrun environment variable is missing (the script
            was not started by ``torchrun`` / ``dist_*.sh``).
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    if not torch_dist.is_available():
        raise RuntimeError('launcher "pytorch" needs torch.distributed, which '
                           'this PyTorch build lacks')
    if torch_dist.is_initialized():
        return False
    missing = [k for k in TORCHRUN_ENV_VARS if k not in os.environ]
    if missing:
        raise UserError(f'launcher "pytorch" needs the environment variables '
                        f'{missing}; start the script with torchrun')
    # mmengine reads LOCAL_RANK; without CUDA its fallback divides by 0.
    os.environ.setdefault('LOCAL_RANK', os.environ['RANK'])
    kwargs = {} if timeout is None else dict(
        timeout=timedelta(seconds=timeout))
    torch_dist.init_process_group(
        backend='gloo',
        init_method='env://',
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **kwargs)
    return True


def cpu_model_wrapper_cfg(**kwargs: Any) -> Dict[str, Any]:
    """The model wrapper config of a distributed CPU run.

    ``DistributedDataParallel`` refuses ``device_ids`` for a CPU module,
    while mmengine's Runner defaults them to ``[LOCAL_RANK]``.

    Args:
        **kwargs: Extra wrapper arguments, e.g.
            ``find_unused_parameters=True``.

    Returns:
        dict: ``dict(type='MMDistributedDataParallel', device_ids=None,
        **kwargs)``.
    """
    return dict(type='MMDistributedDataParallel', device_ids=None, **kwargs)


def setup_cfg_for_launcher(cfg: Any, launcher: str) -> Any:
    """Set ``cfg.launcher`` and, for CPU distributed runs, gloo and DDP.

    Without CUDA and with a launcher other than 'none', sets
    ``cfg.env_cfg.dist_cfg.backend = 'gloo'`` and makes
    ``cfg.model_wrapper_cfg`` a DDP wrapper without ``device_ids`` (an
    existing wrapper config keeps its other keys; otherwise
    ``find_unused_parameters`` is taken from the config as the Runner does).

    Args:
        cfg (mmengine.Config): The config, changed in place.
        launcher (str): The job launcher.

    Returns:
        mmengine.Config: ``cfg``.
    """
    cfg.launcher = launcher
    if not _cpu_distributed(launcher):
        return cfg
    env_cfg = cfg.get('env_cfg') or {}
    dist_cfg = dict(env_cfg.get('dist_cfg') or {})
    dist_cfg['backend'] = 'gloo'
    env_cfg['dist_cfg'] = dist_cfg
    cfg.env_cfg = env_cfg
    wrapper = cfg.get('model_wrapper_cfg')
    if wrapper is None:
        wrapper = cpu_model_wrapper_cfg(
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    else:
        wrapper = dict(wrapper)
        wrapper.setdefault('type', 'MMDistributedDataParallel')
        wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    return cfg


def destroy_dist_if_initialized() -> None:
    """Destroy the default process group at the end of a successful run.

    Without it a gloo run can abort at interpreter exit ("terminate called
    without an active exception": gloo's worker threads still hold tensors
    while Python tears down; pytorch/pytorch#190489), which fails the job
    after its results were written. Call it only after success: a rank that
    failed must not wait for the others in a collective shutdown.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def finish_run() -> None:
    """End a command-line tool's successful run.

    One process: nothing (the tool returns as usual). A distributed run:
    the group is destroyed (as :func:`destroy_dist_if_initialized` does),
    then the process exits with status 0 without the interpreter's
    teardown. Destroying the group alone is not
    enough while an object still holds it (the Runner's DDP wrapper until
    ``main`` returns, or later when a reference cycle keeps it): it is then
    collected during the teardown and gloo can abort it as described above
    (a rank of ``tools/dist_test.sh`` did, once, in a clean-clone run).
    The logs are flushed first; mmengine closes its visualizer backends in
    ``after_run``. Call it only after success, as the above.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    torch_dist.destroy_process_group()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
