# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Checkpoints in one place: load, key shapes, compare, strict load, save.

Every reader of weights goes through this module: ``tools/test.py`` (refuse
a checkpoint that does not fit before a run starts), ``init_model`` (strict
load), the official-checkpoint converter (compare a converted dict with the
model, save atomically) and the tests.

``Runner.load_checkpoint`` loads non-strictly: missing, unexpected and
mis-shaped weights only produce a warning, and a run would then train or
score a partly random model. One rule holds for every loader -- ``load_from``
of ``tools/train.py`` (:func:`~hsnet_mm.utils.runner_setup.build_runner`),
``tools/test.py`` (:func:`check_checkpoint`) and ``init_model``
(:func:`load_weights`): :func:`check_state_dict` refuses such a checkpoint
with the list of differences, unless the config asks for partial loading
(``load_from_partial = True``), which loads the matching weights and warns.

Reading a file, its CRC check and the finiteness checks are in
:mod:`hsnet_mm.utils.checkpoint_file` (re-exported here).
"""
import io
import logging
import os
import pickle
import re
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from .checkpoint_file import (InvalidCheckpointError, NonFiniteCheckpointError,
                              check_finite, listed, load_checkpoint_file,
                              load_error)
from .cli import UserError
from .fileio import atomic_write_bytes
from .safe_globals import register_safe_globals

__all__ = [  # the first four from checkpoint_file.py, for older imports
    'InvalidCheckpointError', 'NonFiniteCheckpointError', 'check_finite',
    'load_checkpoint_file', 'CheckpointMismatchError', 'PARTIAL_KEY',
    'load_state_dict', 'state_dict_shapes', 'compare_state_dicts',
    'check_state_dict', 'build_model_skeleton', 'check_checkpoint',
    'check_load_from', 'load_weights', 'save_checkpoint_file'
]
PathType = Union[str, os.PathLike]
#: Key -> shape of a state dict.
KeyShapes = Mapping[str, Tuple[int, ...]]
#: The config key that allows loading a checkpoint that does not match.
PARTIAL_KEY = 'load_from_partial'

#: mmengine's ``CheckpointLoader`` prefixes that are not local paths.
REMOTE_PREFIXES = ('open-mmlab:', 'openmmlab:', 'mmcls:', 'mmpretrain:',
                   'torchvision:', 'modelzoo:')


class CheckpointMismatchError(UserError):
    """The checkpoint's weights do not match the model."""


def _is_remote(filename: str) -> bool:
    """URLs and mmengine's model-zoo prefixes, not local paths."""
    return '://' in filename or filename.startswith(REMOTE_PREFIXES)


def load_state_dict(filename: PathType) -> Dict[str, torch.Tensor]:
    """Read the model weights of a checkpoint onto the CPU.

    Accepts a Runner checkpoint (``state_dict`` key) or a bare state dict;
    strips DataParallel's ``module.`` prefix as the Runner does.

    Args:
        filename (str | os.PathLike): Local path, or a URL / mmengine
            scheme.

    Returns:
        dict[str, Tensor]: Name to tensor.

    Raises:
        FileNotFoundError: a local checkpoint does not exist.
        InvalidCheckpointError: the file is no checkpoint or holds no state
            dict (a ``ValueError``).
    """
    filename = os.fspath(filename)
    if _is_remote(filename):
        from mmengine.runner.checkpoint import _load_checkpoint
        register_safe_globals()
        try:
            ckpt = _load_checkpoint(filename, map_location='cpu')
        except pickle.UnpicklingError as e:
            raise load_error(filename, e) from e
    else:
        ckpt = load_checkpoint_file(filename)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, Mapping) or not any(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise InvalidCheckpointError(
            f'{filename} holds no state dict (a mapping of '
            'names to tensors, or one under "state_dict")')
    return {
        re.sub(r'^module\.', '', k): v
        for k, v in state.items() if isinstance(v, torch.Tensor)
    }


def state_dict_shapes(
    model_or_state: Union[nn.Module, Mapping[str, torch.Tensor]]
) -> Dict[str, Tuple[int, ...]]:
    """Key -> shape of a model's state dict (or of a state dict)."""
    state = model_or_state.state_dict() if isinstance(
        model_or_state, nn.Module) else model_or_state
    return {k: tuple(v.shape) for k, v in state.items()}


def compare_state_dicts(expected: KeyShapes,
                        state: Mapping[str, torch.Tensor]) -> List[str]:
    """Differences between a model's key -> shape map and a state dict.

    Args:
        expected (Mapping[str, tuple]): The model's state-dict shapes.
        state (Mapping[str, Tensor]): The checkpoint's weights.

    Returns:
        list[str]: One line per kind of difference; empty when they match.
    """
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(
        f'{k} (checkpoint {tuple(state[k].shape)}, model {expected[k]})'
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k]))
    lines = []
    if missing:
        lines.append(f'{len(missing)} missing key(s): {listed(missing)}')
    if unexpected:
        lines.append(f'{len(unexpected)} unexpected key(s): '
                     f'{listed(unexpected)}')
    if shapes:
        lines.append(f'{len(shapes)} shape mismatch(es): {listed(shapes)}')
    return lines


def check_state_dict(expected: KeyShapes,
                     state: Mapping[str, torch.Tensor],
                     source: str,
                     target: str = 'the model',
                     hint: str = '',
                     partial: bool = False) -> Dict[str, torch.Tensor]:
    """The one rule of every weight loader: ``state`` fits ``expected``
    exactly, unless partial loading was asked for.

    Args:
        expected (Mapping[str, tuple]): The model's state-dict shapes.
        state (Mapping[str, Tensor]): The weights to load.
        source (str): What the weights are, for the message (a path).
        target (str): What they should fit, for the message. Defaults to
            'the model'.
        hint (str): A sentence appended to the message. Defaults to ''.
        partial (bool): Warn about the differences (the same list) instead
            of raising. Defaults to False.

    Returns:
        dict[str, Tensor]: The weights to load: all of ``state``, or with
        ``partial`` those whose key and shape the model has.

    Raises:
        CheckpointMismatchError: missing, unexpected or mis-shaped keys
            (each kind: its count and the first keys), unless ``partial``;
            an official HSNet checkpoint gets a hint at the converter,
            others at ``load_from_partial``.
    """
    problems = compare_state_dicts(expected, state)
    if not problems:
        return dict(state)
    if partial:
        print_log(
            f'{source} does not match {target}; {PARTIAL_KEY}=True: '
            'loading the matching weights only, the others keep their '
            'initial values:\n  ' + '\n  '.join(problems),
            logger='current',
            level=logging.WARNING)
        return {
            k: v
            for k, v in state.items()
            if k in expected and tuple(v.shape) == tuple(expected[k])
        }
    if not hint and any(k.startswith('hpn_learner.') for k in state):
        hint = ('This looks like an official HSNet checkpoint: convert it '
                'with tools/model_converters/hsnet2mmseg.py.')
    elif not hint:
        hint = (f'To load only the matching weights, set {PARTIAL_KEY}=True '
                'in the config.')
    raise CheckpointMismatchError(f'{source} does not match {target}:\n  ' +
                                  '\n  '.join(problems) +
                                  (f'\n{hint}' if hint else ''))


def build_model_skeleton(cfg: Config,
                         device: Optional[str] = None) -> nn.Module:
    """Build ``cfg.model`` without initialising or downloading weights.

    Args:
        cfg (mmengine.Config): The config.
        device (str, optional): Device to create the parameters on;
            ``'meta'`` allocates no memory (enough for key shapes). Defaults
            to None (the CPU).
    """
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmseg')):
        if device is None:
            return MODELS.build(cfg.model)
        with torch.device(device):
            return MODELS.build(cfg.model)


def _model_key_shapes(cfg: Config) -> Dict[str, Tuple[int, ...]]:
    """Key shapes of ``cfg.model``, from a build on the meta device.

    A model whose constructor needs real values falls back to a CPU build.
    """
    try:
        return state_dict_shapes(build_model_skeleton(cfg, device='meta'))
    except (NotImplementedError, RuntimeError):
        return state_dict_shapes(build_model_skeleton(cfg))


def check_checkpoint(cfg: Config,
                     filename: PathType,
                     partial: Optional[bool] = None) -> None:
    """Check that ``filename`` loads into ``cfg.model``
    (:func:`check_state_dict`).

    The model is built from the config on the meta device (no memory, no
    weights initialised or downloaded) only to read its state-dict keys and
    shapes, so a tool can check before it builds the real model once.

    Args:
        cfg (mmengine.Config): The config.
        filename (str | os.PathLike): The checkpoint (path or URL).
        partial (bool, optional): Allow a checkpoint that does not match
            (a warning lists the differences). Defaults to None: the
            config's ``load_from_partial`` (False without one).

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        InvalidCheckpointError: it is no checkpoint.
        CheckpointMismatchError: its weights do not match the model.
        NonFiniteCheckpointError: it holds NaN or inf.
    """
    if partial is None:
        partial = bool(cfg.get(PARTIAL_KEY, False))
    _read_checked(filename, _model_key_shapes(cfg), 'the model of the config',
                  partial)


def check_load_from(cfg: Config) -> None:
    """Refuse ``cfg.load_from`` (a training run's, or the checkpoint that
    ``--resume`` chose) unless it fits ``cfg.model``
    (:func:`check_checkpoint`); ``Runner.load_checkpoint`` would only warn
    and train a partly random model."""
    if cfg.get('load_from'):
        check_checkpoint(cfg, cfg.load_from)


def _read_checked(filename: PathType, expected: KeyShapes, target: str,
                  partial: bool) -> Dict[str, torch.Tensor]:
    """The weights of ``filename`` to load, checked against ``expected``
    (:func:`check_state_dict`) and finite."""
    state = load_state_dict(filename)
    source = f'checkpoint {os.fspath(filename)}'
    state = check_state_dict(expected, state, source, target, partial=partial)
    check_finite(state, source)
    return state


def load_weights(model: nn.Module,
                 filename: PathType,
                 partial: bool = False) -> nn.Module:
    """Load a checkpoint into ``model``: strictly (every key, every shape)
    unless ``partial``.

    Args:
        model (nn.Module): The model.
        filename (str | os.PathLike): The checkpoint (path or URL).
        partial (bool): Load the weights whose key and shape match and warn
            about the others (:func:`check_state_dict`). Defaults to False.

    Returns:
        nn.Module: ``model``, with the weights.

    Raises:
        Exception: those of :func:`check_checkpoint`.
    """
    state = _read_checked(filename, state_dict_shapes(model), 'the model',
                          partial)
    model.load_state_dict(state, strict=not partial)
    return model


def save_checkpoint_file(checkpoint: dict, path: PathType) -> str:
    """``torch.save`` a checkpoint atomically (no half-written file).

    Args:
        checkpoint (dict): e.g. ``dict(state_dict=..., meta=...)``.
        path (str | os.PathLike): Destination.

    Returns:
        str: The destination path.

    Raises:
        NoSpaceError: the disk is full; ``path`` is left as it was.
    """
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    return atomic_write_bytes(path, buffer.getvalue())
