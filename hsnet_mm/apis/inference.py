# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Build a ready-to-use HSNet from a config (and a checkpoint)."""
from typing import Optional, Union

import torch
from mmengine.config import Config

from ..utils import build_model_skeleton, load_weights


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build the model of ``config`` in eval mode, with weights.

    Without ``checkpoint`` the model's ``init_weights()`` runs (a config
    whose backbone has a ``Pretrained`` ``init_cfg`` downloads it). With
    one, the checkpoint must match the model exactly (no missing,
    unexpected or mis-shaped keys), and nothing is downloaded.

    Args:
        config (str | Config): config file or object.
        checkpoint (str, optional): an mmengine checkpoint (e.g. from
            ``tools/train.py`` or ``hsnet2mmseg.py``). Defaults to None.
        device (str): e.g. 'cpu' or 'cuda:0'. Defaults to 'cpu'.
        cfg_options (dict, optional): overrides merged into the config.

    Returns:
        nn.Module: the model, in eval mode, on ``device``; ``model.cfg``
        holds the config.

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        CheckpointMismatchError: its weights do not fit the model.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = build_model_skeleton(cfg)
    if checkpoint is None:
        model.init_weights()
    else:
        load_weights(model, checkpoint)
    model.cfg = cfg
    return model.to(device).eval()
