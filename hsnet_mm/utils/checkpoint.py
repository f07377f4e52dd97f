# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Checkpoints in one place: load, key shapes, compare, strict load, save.

Every reader of weights goes through this module: ``tools/test.py`` (refuse
a checkpoint that does not fit before a run starts), ``init_model`` (strict
load), the official-checkpoint converter (compare a converted dict with the
model, save atomically) and the tests.

``Runner.load_checkpoint`` loads non-strictly: missing, unexpected and
mis-shaped weights only produce a warning, and a test run would then score a
partly random model. :func:`check_checkpoint` and :func:`load_weights` refuse
such a checkpoint with the list of differences instead.
"""
import io
import os
import pickle
import re
import zipfile
from typing import Dict, List, Mapping, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from .cli import UserError
from .fileio import atomic_write_bytes
from .safe_globals import register_safe_globals

PathType = Union[str, os.PathLike]
#: Key -> shape of a state dict.
KeyShapes = Mapping[str, Tuple[int, ...]]

#: How many keys of each kind an error message lists.
MAX_LISTED = 8

#: mmengine's ``CheckpointLoader`` prefixes that are not local paths.
REMOTE_PREFIXES = ('open-mmlab:', 'openmmlab:', 'mmcls:', 'mmpretrain:',
                   'torchvision:', 'modelzoo:')


class InvalidCheckpointError(UserError):
    """The file is not a checkpoint that can be loaded."""


class CheckpointMismatchError(UserError):
    """The checkpoint's weights do not match the model."""


class NonFiniteCheckpointError(UserError):
    """The checkpoint holds NaN or infinite values."""


def _is_torch_file(path: str) -> bool:
    """Whether ``path`` starts like a file of ``torch.save``."""
    if zipfile.is_zipfile(path):
        return True
    with open(path, 'rb') as f:
        return f.read(1) == pickle.PROTO  # legacy (pre-1.6) format


def _is_remote(filename: str) -> bool:
    """URLs and mmengine's model-zoo prefixes, not local paths."""
    return '://' in filename or filename.startswith(REMOTE_PREFIXES)


def load_checkpoint_file(path: PathType, trusted: bool = False) -> dict:
    """Load a local checkpoint file onto the CPU.

    Registers the Runner globals first, so the default ``weights_only`` load
    of PyTorch >= 2.6 accepts mmengine checkpoints.

    Args:
        path (str | os.PathLike): The ``.pth`` file.
        trusted (bool): Load with ``weights_only=False``, which can run
            arbitrary code from the file: only for files you trust.
            Defaults to False.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        InvalidCheckpointError: the file is not a torch checkpoint, holds
            objects that a ``weights_only`` load refuses, or is not a dict
            (a ``ValueError``).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if not _is_torch_file(path):
        raise InvalidCheckpointError(
            f'{path} is not a PyTorch checkpoint: neither a zip '
            'archive (torch.save) nor a pickle')
    register_safe_globals()
    if trusted:
        kwargs = dict(weights_only=False)
    elif hasattr(torch.serialization, 'add_safe_globals'):
        # torch 2.4/2.5 offer allow-listing but still default to unsafe
        kwargs = dict(weights_only=True)
    else:  # torch < 2.4 cannot allow-list mmengine's classes
        kwargs = {}
    try:
        ckpt = torch.load(path, map_location='cpu', **kwargs)
    except pickle.UnpicklingError as e:
        if 'Unsupported global' in str(e) or 'refusing getattr' in str(e):
            raise InvalidCheckpointError(
                f'{path} holds objects that a weights_only load refuses; if '
                'you trust the file, load it with trusted=True. '
                f'PyTorch said: {e}') from e
        raise InvalidCheckpointError(
            f'{path} is not a PyTorch checkpoint: {e}') from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise InvalidCheckpointError(
            f'{path} is not a PyTorch checkpoint: {e}') from e
    if not isinstance(ckpt, dict):
        raise InvalidCheckpointError(
            f'{path} holds a {type(ckpt).__name__}, not a '
            'checkpoint dict')
    return ckpt


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
        ckpt = _load_checkpoint(filename, map_location='cpu')
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


def _listed(keys: List[str]) -> str:
    more = len(keys) - MAX_LISTED
    shown = ', '.join(keys[:MAX_LISTED])
    return shown + (f', ... ({more} more)' if more > 0 else '')


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
        lines.append(f'{len(missing)} missing key(s): {_listed(missing)}')
    if unexpected:
        lines.append(f'{len(unexpected)} unexpected key(s): '
                     f'{_listed(unexpected)}')
    if shapes:
        lines.append(f'{len(shapes)} shape mismatch(es): {_listed(shapes)}')
    return lines


def check_state_dict(expected: KeyShapes,
                     state: Mapping[str, torch.Tensor],
                     source: str,
                     target: str = 'the model',
                     hint: str = '') -> None:
    """Raise unless ``state`` fits ``expected`` exactly.

    Args:
        expected (Mapping[str, tuple]): The model's state-dict shapes.
        state (Mapping[str, Tensor]): The weights to load.
        source (str): What the weights are, for the message (a path).
        target (str): What they should fit, for the message. Defaults to
            'the model'.
        hint (str): A sentence appended to the message. Defaults to ''.

    Raises:
        CheckpointMismatchError: missing, unexpected or mis-shaped keys,
            all listed; an official HSNet checkpoint gets a hint at the
            converter.
    """
    problems = compare_state_dicts(expected, state)
    if not problems:
        return
    if not hint and any(k.startswith('hpn_learner.') for k in state):
        hint = ('This looks like an official HSNet checkpoint: convert it '
                'with tools/model_converters/hsnet2mmseg.py.')
    raise CheckpointMismatchError(f'{source} does not match {target}:\n  ' +
                                  '\n  '.join(problems) +
                                  (f'\n{hint}' if hint else ''))


def non_finite_tensors(state: Mapping[str, torch.Tensor]) -> List[str]:
    """``'name (n NaN, m inf of N)'`` for each floating tensor with
    non-finite values, in key order."""
    bad = []
    for key, value in state.items():
        if not (isinstance(value, torch.Tensor)
                and value.is_floating_point()) or bool(
                    torch.isfinite(value).all()):
            continue
        nan = int(torch.isnan(value).sum())
        inf = int(torch.isinf(value).sum())
        bad.append(f'{key} ({nan} NaN, {inf} inf of {value.numel()})')
    return bad


def check_finite(state: Mapping[str, torch.Tensor], source: str) -> None:
    """Raise if any floating tensor of ``state`` holds NaN or inf.

    Such weights give all-background predictions (``mIoU: 0.00``) rather
    than an error, so loaders refuse them.

    Args:
        state (Mapping[str, Tensor]): The weights.
        source (str): What they are, for the message (a path).

    Raises:
        NonFiniteCheckpointError: naming the tensors and their counts.
    """
    bad = non_finite_tensors(state)
    if bad:
        raise NonFiniteCheckpointError(
            f'{source} holds non-finite values (the run that saved it '
            f'diverged) in {len(bad)} tensor(s): {_listed(bad)}')


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


def check_checkpoint(cfg: Config, filename: PathType) -> None:
    """Check that ``filename`` loads strictly into ``cfg.model``.

    The model is built from the config on the meta device (no memory, no
    weights initialised or downloaded) only to read its state-dict keys and
    shapes, so a tool can check before it builds the real model once.

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        InvalidCheckpointError: it is no checkpoint.
        CheckpointMismatchError: its weights do not match the model.
        NonFiniteCheckpointError: it holds NaN or inf.
    """
    _read_checked(filename, _model_key_shapes(cfg), 'the model of the config')


def _read_checked(filename: PathType, expected: KeyShapes,
                  target: str) -> Dict[str, torch.Tensor]:
    """The weights of ``filename``, checked against ``expected``: every key,
    every shape, finite values."""
    state = load_state_dict(filename)
    source = f'checkpoint {os.fspath(filename)}'
    check_state_dict(expected, state, source, target)
    check_finite(state, source)
    return state


def load_weights(model: nn.Module, filename: PathType) -> nn.Module:
    """Load a checkpoint into ``model`` strictly (every key, every shape).

    Args:
        model (nn.Module): The model.
        filename (str | os.PathLike): The checkpoint (path or URL).

    Returns:
        nn.Module: ``model``, with the weights.

    Raises:
        Exception: those of :func:`check_checkpoint`.
    """
    state = _read_checked(filename, state_dict_shapes(model), 'the model')
    model.load_state_dict(state, strict=True)
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
