# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Fixtures of the utils tests: the toy Runner and one of its checkpoints."""
from pathlib import Path

import pytest
from mmengine.runner import Runner

HERE = Path(__file__).resolve().parent


@pytest.fixture
def toys(monkeypatch):
    """The toy Runner module of this folder."""
    monkeypatch.syspath_prepend(str(HERE))
    import runner_toys
    return runner_toys


@pytest.fixture(scope='module')
def runner_ckpt(tmp_path_factory):
    """A checkpoint of a toy Runner after 2 iterations of SGD."""
    import sys
    sys.path.insert(0, str(HERE))
    try:
        import runner_toys
    finally:
        sys.path.remove(str(HERE))
    work_dir = tmp_path_factory.mktemp('runner')
    runner = Runner(
        **runner_toys.toy_runner_kwargs(str(work_dir), 2, 'ckpt_save'))
    runner.train()
    return work_dir / 'iter_2.pth'
