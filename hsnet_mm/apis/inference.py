# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Build a ready-to-use HSNet from a config (and a checkpoint or an
export directory)."""
import argparse
import os
from typing import Optional, Union

import torch
from mmengine.config import Config

from ..deploy import DeployedHSNet, is_export_dir
from ..utils import UserError, build_model_skeleton, load_weights
from ..utils.checkpoint import PARTIAL_KEY

#: What ``init_model``'s ``backend`` takes: PyTorch, or a runtime of an
#: export (:mod:`hsnet_mm.deploy.backends`).
BACKENDS = ('pytorch', 'onnxruntime', 'openvino')


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``checkpoint`` positional and ``--backend``, as the demos and
    ``tools/segment_folder.py`` take them (see :func:`init_model`)."""
    parser.add_argument(
        'checkpoint',
        metavar='CHECKPOINT',
        help='checkpoint file, or an export directory '
        '(tools/deployment/pytorch2onnx.py)')
    parser.add_argument(
        '--backend',
        choices=BACKENDS,
        help='pytorch, or the runtime of an export given as CHECKPOINT '
        '(default: pytorch for a checkpoint, onnxruntime for an export)')


def add_support_argument(parser: argparse.ArgumentParser) -> None:
    """``--support IMG MASK``, repeated for K shots (``args.support``: a
    list of [image, mask] pairs)."""
    parser.add_argument(
        '--support',
        nargs=2,
        action='append',
        metavar=('IMG', 'MASK'),
        required=True,
        help='a support image and its mask (nonzero = object); repeat '
        'for K shots')


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               backend: Optional[str] = None) -> torch.nn.Module:
    """Build the model of ``config`` in eval mode, with weights.

    Without ``checkpoint`` the model's ``init_weights()`` runs (a config
    whose backbone has a ``Pretrained`` ``init_cfg`` downloads it). With
    one, the checkpoint must match the model exactly (no missing,
    unexpected or mis-shaped keys; the rule of ``tools/train.py``'s
    ``load_from`` and ``tools/test.py``), unless the config sets
    ``load_from_partial=True``, and nothing is downloaded.

    An export directory (``tools/deployment/pytorch2onnx.py``) is accepted
    where the checkpoint is (its model config must be the config's), or
    alone as ``config``: the model is then a
    :class:`~hsnet_mm.deploy.DeployedHSNet` run by ``backend``, with the
    same ``predict``/``encode_support`` contract and packed results.

    Args:
        config (str | Config): config file or object.
        checkpoint (str, optional): an mmengine checkpoint (e.g. from
            ``tools/train.py`` or ``hsnet2mmseg.py``). Defaults to None.
        device (str): e.g. 'cpu' or 'cuda:0'. Defaults to 'cpu'.
        cfg_options (dict, optional): overrides merged into the config.
        backend (str, optional): 'pytorch', 'onnxruntime' or 'openvino'.
            Defaults to None: PyTorch for a checkpoint, ONNX Runtime for an
            export.

    Returns:
        nn.Module: the model, in eval mode, on ``device``; ``model.cfg``
        holds the config.

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        InvalidCheckpointError: it is no checkpoint, is corrupted or
            would import a global that a weights_only load refuses.
        CheckpointMismatchError: its weights do not fit the model.
        UserError: an unknown backend, a runtime backend without an
            export, or an export of another model config.
    """
    if backend is not None and backend not in BACKENDS:
        raise UserError(f'backend must be one of {", ".join(BACKENDS)}, got '
                        f'{backend!r}')
    export = next((p for p in (config, checkpoint) if is_export_dir(p)), None)
    if export is not None or backend not in (None, 'pytorch'):
        return _init_deployed(config, checkpoint, export, device, cfg_options,
                              backend)
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model = build_model_skeleton(cfg)
    if checkpoint is None:
        model.init_weights()
    else:
        load_weights(
            model, checkpoint, partial=bool(cfg.get(PARTIAL_KEY, False)))
    model.cfg = cfg
    return model.to(device).eval()


def _init_deployed(config, checkpoint, export, device, cfg_options,
                   backend) -> torch.nn.Module:
    """``init_model`` of an export directory (see there)."""
    if export is None:
        raise UserError(
            f'backend {backend!r} runs an exported model: give the directory '
            'that tools/deployment/pytorch2onnx.py wrote (got '
            f'{os.fspath(checkpoint) if checkpoint else config})')
    if backend in (None, 'pytorch'):
        if backend == 'pytorch':
            raise UserError(f'{export} is an ONNX export: run it with '
                            "backend 'onnxruntime' or 'openvino', or give "
                            'a PyTorch checkpoint')
        backend = 'onnxruntime'
    if str(device) != 'cpu':
        raise UserError(f'an exported model runs on the CPU here, got device '
                        f'{device!r}')
    cfg = None
    if export is checkpoint:  # a config beside it: must be the export's
        cfg = Config.fromfile(config) if isinstance(config, str) else config
        if cfg_options:
            cfg.merge_from_dict(cfg_options)
    elif checkpoint is not None:
        raise UserError(f'{export} is an export: give it alone, without the '
                        f'checkpoint {checkpoint}')
    return DeployedHSNet(export, backend, cfg=cfg).eval()
