# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A hook for the distributed training test: every rank saves its weights.

Loaded by the test's config through ``custom_imports`` (the test puts this
folder on ``PYTHONPATH``); not a test module itself.
"""
import os.path as osp

import torch
from mmengine.dist import get_dist_info
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class SaveRankWeightsHook(Hook):
    """After training, save ``<work_dir>/rank<r>_of_<n>.pth``."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        rank, world_size = get_dist_info()
        torch.save({
            k: v.detach().cpu()
            for k, v in model.state_dict().items()
        }, osp.join(runner.work_dir, f'rank{rank}_of_{world_size}.pth'))
