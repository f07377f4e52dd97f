# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""CPU distributed helpers: config changes, gloo init in 2 processes."""
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from mmengine import Config

from hsnet_mm.utils import (UserError, cpu_model_wrapper_cfg,
                            init_cpu_dist_if_needed, setup_cfg_for_launcher)

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    """A TCP port on localhost that nothing listens on now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_cpu_model_wrapper_cfg():
    assert cpu_model_wrapper_cfg() == dict(
        type='MMDistributedDataParallel', device_ids=None)
    assert cpu_model_wrapper_cfg(
        find_unused_parameters=True)['find_unused_parameters']


def test_setup_cfg_for_launcher_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = Config(
        dict(
            env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=1800)),
            find_unused_parameters=True))
    assert setup_cfg_for_launcher(cfg, 'pytorch') is cfg
    assert cfg.launcher == 'pytorch'
    assert cfg.env_cfg.dist_cfg == dict(backend='gloo', timeout=1800)
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel',
        device_ids=None,
        broadcast_buffers=False,
        find_unused_parameters=True)
    # An existing wrapper keeps its keys and loses its device ids.
    cfg = Config(dict(model_wrapper_cfg=dict(type='X', device_ids=[0], a=1)))
    setup_cfg_for_launcher(cfg, 'slurm')
    assert cfg.model_wrapper_cfg == dict(type='X', device_ids=None, a=1)
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'


def test_setup_cfg_for_launcher_untouched(monkeypatch):
    cfg = Config(dict(env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    setup_cfg_for_launcher(cfg, 'none')
    assert cfg.launcher == 'none' and 'model_wrapper_cfg' not in cfg
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    setup_cfg_for_launcher(cfg, 'pytorch')
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert 'model_wrapper_cfg' not in cfg


def test_init_cpu_dist_skips_and_errors(monkeypatch):
    assert init_cpu_dist_if_needed('none') is False
    assert init_cpu_dist_if_needed('slurm') is False
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert init_cpu_dist_if_needed('pytorch') is False
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(UserError, match='torchrun'):
        init_cpu_dist_if_needed('pytorch')


@pytest.mark.skipif(
    torch.cuda.is_available(), reason='tests the CPU-only path')
@pytest.mark.timeout(300)
def test_two_process_gloo(tmp_path, monkeypatch):
    """2 ranks: init, all_reduce, FewShotMetric gather, a DDP Runner."""
    monkeypatch.syspath_prepend(str(HERE))
    import runner_toys
    mp.spawn(
        runner_toys.dist_worker,
        args=(2, free_port(), str(tmp_path)),
        nprocs=2,
        join=True)
    for rank in range(2):
        seen = json.loads((tmp_path / f'rank{rank}.json').read_text())
        assert seen['init'] is True and seen['init_again'] is False
        assert seen['sum'] == 3.0
        # Both ranks get rank 0's result; the padded episode is dropped.
        expected = {'mIoU': 50.0, 'FB-IoU': 100 * (9 / 12 + 3 / 6) / 2}
        assert seen['metrics'] == pytest.approx(expected)
        assert seen['wrapper'] == 'MMDistributedDataParallel'
        assert seen['world_size'] == 2 and seen['iter'] == 2
        assert seen['destroyed'] is True


def test_finish_run_is_a_no_op_in_one_process():
    from hsnet_mm.utils import finish_run
    assert finish_run() is None  # returns: nothing to tear down


FINISH_RUN_SCRIPT = '''
import logging, os, sys
import torch.distributed as dist
from hsnet_mm.utils import finish_run
dist.init_process_group('gloo', init_method='tcp://127.0.0.1:{port}',
                        rank=0, world_size=1)
group = dist.new_group()  # an object still holding gloo, as a DDP wrapper
logging.getLogger('finish').warning('logged before the exit')
print('results written', end='')  # unflushed: finish_run must flush it
finish_run()
print('not reached')
sys.exit(3)
'''


def test_finish_run_exits_a_distributed_run_with_0(tmp_path):
    script = tmp_path / 'finish.py'
    script.write_text(FINISH_RUN_SCRIPT.format(port=free_port()))
    done = subprocess.run([sys.executable, str(script)],
                          capture_output=True,
                          text=True,
                          timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout == 'results written'
    assert 'logged before the exit' in done.stderr
    assert 'not reached' not in done.stdout
