# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A hook for the kill-during-save test: SIGKILL this process while a
checkpoint is being written.

Loaded by the test's config through ``custom_imports`` (the test puts this
folder on ``PYTHONPATH``); not a test module itself.
"""
import os
import os.path as osp
import signal

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from hsnet_mm.utils import fileio


@HOOKS.register_module()
class KillOnSaveHook(Hook):
    """SIGKILL the process when ``name`` has been written to its temporary
    file but not yet renamed into place: the worst moment of a save.

    Args:
        name (str): The checkpoint file name, e.g. 'epoch_3.pth'.
    """

    def __init__(self, name: str) -> None:
        real = fileio.commit_temp_file

        def commit(tmp_path, path):
            if osp.basename(path) == name:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(tmp_path, path)

        fileio.commit_temp_file = commit
