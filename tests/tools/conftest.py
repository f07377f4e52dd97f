# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Fixtures of the tool tests: a tiny config, a short training run and a
checkpoint whose predictions are neither all background nor all foreground.

Every tool runs as a subprocess with this interpreter, from the repository
root, with one OpenMP thread (the tiny model is ~10x slower with more on a
busy 2-core machine).
"""
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
import torch

from tests.helpers import tiny_hsnet_cfg

REPO_ROOT = Path(__file__).resolve().parents[2]

#: A tiny HSNet on synthetic 64 px episodes, inheriting the shipped runtime
#: and schedule. 8 training episodes in batches of 2: 4 iterations an epoch.
TINY_CONFIG = """
_base_ = [
    '{repo}/configs/_base_/default_runtime.py',
    '{repo}/configs/_base_/schedules/hsnet_adam.py',
]
model = {model}
pipeline = [
    dict(type='LoadEpisode'),
    dict(type='ResizeEpisode', scale=(64, 64)),
    dict(type='PackEpisodeInputs'),
]
dataset = dict(
    type='SyntheticFewShotDataset',
    img_size=64,
    images_per_class=4,
    fold=0,
    shot=1,
    pipeline=pipeline)
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='EpisodicSampler', shuffle=True),
    dataset=dict(dataset, mode='train', num_episodes=8))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, mode='val', num_episodes=6))
test_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(dataset, mode='test', num_episodes=11))
val_evaluator = dict(type='FewShotMetric')
test_evaluator = val_evaluator
train_cfg = dict(max_epochs=2)
default_hooks = dict(logger=dict(interval=1))
randomness = dict(seed=0)
"""


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tool_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """The environment of a tool subprocess."""
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS='1', PYTHON=sys.executable, PYTHONUNBUFFERED='1')
    env.update(extra or {})
    return env


def run(args: List[str],
        env: Optional[Dict[str, str]] = None,
        timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``[python] args`` (or a ``bash`` script) from the repo root."""
    cmd = args if args[0] == 'bash' else [sys.executable, *args]
    return subprocess.run(
        cmd,
        cwd=REPO_ROOT,
        env=tool_env(env),
        capture_output=True,
        text=True,
        timeout=timeout)


def check_ok(proc: subprocess.CompletedProcess) -> str:
    """Assert a zero exit code (showing the output otherwise)."""
    assert proc.returncode == 0, (
        f'exit code {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}\n'
        f'--- stderr\n{proc.stderr[-6000:]}')
    return proc.stdout


@pytest.fixture(scope='session')
def run_tool() -> Callable[..., subprocess.CompletedProcess]:
    """``run_tool(args, env=None, timeout=300)``: run a tool subprocess."""
    return run


@pytest.fixture(scope='session')
def tiny_config(tmp_path_factory) -> Path:
    """The tiny config file (its own folder, named ``tiny_hsnet.py``)."""
    path = tmp_path_factory.mktemp('cfg') / 'tiny_hsnet.py'
    path.write_text(
        TINY_CONFIG.format(repo=REPO_ROOT, model=repr(tiny_hsnet_cfg())))
    return path


@pytest.fixture(scope='session')
def trained(tmp_path_factory, tiny_config) -> Path:
    """Work dir of a 2-epoch (8-iteration) training run of the tiny model."""
    work_dir = tmp_path_factory.mktemp('train') / 'work_dir'
    check_ok(
        run(['tools/train.py',
             str(tiny_config), '--work-dir',
             str(work_dir)]))
    return work_dir


@pytest.fixture(scope='session')
def calibrated_checkpoint(tmp_path_factory, tiny_config, trained) -> Path:
    """The trained weights with the foreground bias set so that about half
    of the test pixels are foreground: a mismatch of episodes, order or
    numerics then changes mIoU and FB-IoU."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS, MODELS

    import hsnet_mm  # noqa: F401
    from hsnet_mm.utils import load_checkpoint_file

    cfg = Config.fromfile(str(tiny_config))
    ckpt = load_checkpoint_file(trained / 'epoch_2.pth')
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
        model.load_state_dict(ckpt['state_dict'])
        dataset = DATASETS.build(cfg.test_dataloader.dataset)
    model.eval()
    batch = model.data_preprocessor(
        pseudo_collate([dataset[i] for i in range(4)]))
    with torch.no_grad():
        logits = model(**batch, mode='tensor')  # (B, K, 2, H, W)
    margin = (logits[:, :, 1] - logits[:, :, 0]).flatten()
    state = dict(ckpt['state_dict'])
    bias = state['decode_head.conv_seg.bias'].clone()
    bias[1] -= margin.median()
    state['decode_head.conv_seg.bias'] = bias
    path = tmp_path_factory.mktemp('ckpt') / 'calibrated.pth'
    torch.save(dict(state_dict=state, meta=dict()), path)
    return path


@pytest.fixture
def copy_work_dir(tmp_path) -> Callable[[Path], Path]:
    """Copy a work dir, pointing its ``last_checkpoint`` at the copy."""

    def _copy(src: Path) -> Path:
        dst = tmp_path / src.name
        shutil.copytree(src, dst)
        last = dst / 'last_checkpoint'
        if last.exists():
            last.write_text(last.read_text().replace(str(src), str(dst)))
        return dst

    return _copy


@pytest.fixture(scope='session')
def ok() -> Callable[[subprocess.CompletedProcess], str]:
    """``ok(proc)``: assert exit code 0 and return stdout."""
    return check_ok


@pytest.fixture(scope='session')
def port() -> Callable[[], int]:
    """``port()``: a free TCP port for a distributed run."""
    return free_port
