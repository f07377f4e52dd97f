# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Read a checkpoint file and check what it holds before anything uses it.

:func:`load_checkpoint_file` is the one reader of local checkpoint files
(re-exported by :mod:`hsnet_mm.utils.checkpoint`). Before unpickling, it
checks the CRC-32 of every member of the zip archive that ``torch.save``
writes: PyTorch's own reader does not, so a checkpoint with a few KB
overwritten loads without error and its garbage weights or optimizer state
only show as a NaN loss later. Reading the members costs about as much as
``torch.load`` itself (0.21 s for a 193 MB checkpoint on one CPU core).
The load is ``weights_only``: a file whose pickle would import a module
(``posix.system``...) is refused, naming the global.

:func:`check_finite` refuses NaN or infinite values in a state dict or in
any nested state (an optimizer's), naming the tensors.
"""
import os
import pickle
import re
import zipfile
import zlib
from typing import Any, Dict, Iterator, List, Mapping, Tuple, Union

import torch

from .cli import UserError
from .safe_globals import register_safe_globals

PathType = Union[str, os.PathLike]

#: How many items of each kind an error message lists.
MAX_LISTED = 8
#: Bytes read at a time when checking the CRC-32 of a member.
CRC_CHUNK = 1 << 22


class InvalidCheckpointError(UserError):
    """The file is not a checkpoint that can be loaded."""


class NonFiniteCheckpointError(UserError):
    """The checkpoint holds NaN or infinite values."""


def listed(items: List[str]) -> str:
    """The first :data:`MAX_LISTED` items, then how many more there are."""
    more = len(items) - MAX_LISTED
    shown = ', '.join(items[:MAX_LISTED])
    return shown + (f', ... ({more} more)' if more > 0 else '')


def is_torch_file(path: str) -> bool:
    """Whether ``path`` starts like a file of ``torch.save``."""
    if zipfile.is_zipfile(path):
        return True
    with open(path, 'rb') as f:
        return f.read(1) == pickle.PROTO  # legacy (pre-1.6) format


def verify_zip_crc(path: PathType) -> None:
    """Check the CRC-32 of every member of a ``torch.save`` zip archive.

    Members recorded with a CRC of 0 are skipped: ``torch.save`` writes 0
    after ``torch.serialization.set_crc32_options(False)``. A file that is
    not a zip archive (the legacy format) has no CRC and passes.

    Args:
        path (str | os.PathLike): The checkpoint.

    Raises:
        InvalidCheckpointError: a member's bytes do not match its CRC-32 or
            the archive cannot be read, naming the member.
    """
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        return
    member = '(the archive directory)'
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.CRC == 0:
                    continue
                member = info.filename
                with archive.open(info) as f:  # checks the CRC at its end
                    while f.read(CRC_CHUNK):
                        pass
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError,
            NotImplementedError) as e:
        raise InvalidCheckpointError(
            f'{path} is corrupted: member {member} does not match the '
            f'CRC-32 it was written with ({e}); the file changed after it '
            'was saved') from e


def refused_global(err: BaseException) -> str:
    """``'refused: it would import <global>'`` for a ``weights_only``
    unpickling error on a global ('' for other errors)."""
    text = str(err)
    if 'refusing getattr' in text:
        return f'refused: {text}'
    match = re.search(r'GLOBAL ([\w.]+)', text)
    if match is None:
        return ''
    name = match.group(1)
    if 'is blocked' in text:
        return (f'refused: it would import {name}, which a weights_only '
                'load blocks (unpickling it could run code)')
    return (f'refused: it would import {name}, which a weights_only load '
            'does not allow; load it with trusted=True only if you trust '
            'the file')


def load_error(source: str, err: BaseException) -> InvalidCheckpointError:
    """The user error for a ``torch.load`` of ``source`` that raised
    ``err``: a refused global is named, anything else is no checkpoint."""
    refused = refused_global(err) if isinstance(err,
                                                pickle.UnpicklingError) else ''
    if refused:
        return InvalidCheckpointError(f'{source}: {refused}')
    return InvalidCheckpointError(
        f'{source} is not a PyTorch checkpoint: {err}')


def load_checkpoint_file(path: PathType,
                         trusted: bool = False,
                         verify: bool = True) -> dict:
    """Load a local checkpoint file onto the CPU.

    Registers the Runner globals first, so the default ``weights_only`` load
    of PyTorch >= 2.6 accepts mmengine checkpoints.

    Args:
        path (str | os.PathLike): The ``.pth`` file.
        trusted (bool): Load with ``weights_only=False``, which can run
            arbitrary code from the file: only for files you trust.
            Defaults to False.
        verify (bool): Check the CRC-32 of the archive's members first
            (:func:`verify_zip_crc`). Defaults to True.

    Returns:
        dict: The checkpoint.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        InvalidCheckpointError: the file is not a torch checkpoint, is
            corrupted, holds objects that a ``weights_only`` load refuses
            (naming the global) or is not a dict (a ``ValueError``).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if not is_torch_file(path):
        raise InvalidCheckpointError(
            f'{path} is not a PyTorch checkpoint: neither a zip '
            'archive (torch.save) nor a pickle')
    if verify:
        verify_zip_crc(path)
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
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError,
            ValueError) as e:
        raise load_error(path, e) from e
    if not isinstance(ckpt, dict):
        raise InvalidCheckpointError(
            f'{path} holds a {type(ckpt).__name__}, not a '
            'checkpoint dict')
    return ckpt


def nested_tensors(state: Any, prefix: str = '') -> Iterator[Tuple[str, Any]]:
    """``(dotted name, value)`` for each tensor and float in nested dicts,
    lists and tuples (an optimizer's ``state`` and ``param_groups``)."""
    if isinstance(state, (torch.Tensor, float)):
        yield prefix, state
    elif isinstance(state, Mapping):
        for key, value in state.items():
            yield from nested_tensors(value, f'{prefix}.{key}'.lstrip('.'))
    elif isinstance(state, (list, tuple)):
        for i, value in enumerate(state):
            yield from nested_tensors(value, f'{prefix}.{i}'.lstrip('.'))


def non_finite_tensors(state: Mapping[str, Any]) -> List[str]:
    """``'name (n NaN, m inf of N)'`` for each floating tensor (or float)
    with non-finite values, in key order; nested states are walked
    (:func:`nested_tensors`)."""
    bad = []
    for key, value in nested_tensors(state):
        if isinstance(value, float):
            value = torch.tensor(value)
        if not value.is_floating_point() or bool(torch.isfinite(value).all()):
            continue
        nan = int(torch.isnan(value).sum())
        inf = int(torch.isinf(value).sum())
        bad.append(f'{key} ({nan} NaN, {inf} inf of {value.numel()})')
    return bad


def check_finite(state: Mapping[str, Any], source: str) -> None:
    """Raise if any floating tensor of ``state`` holds NaN or inf.

    Such weights give all-background predictions (``mIoU: 0.00``) rather
    than an error, and such an optimizer state a NaN loss a step after a
    resume, so loaders refuse them.

    Args:
        state (Mapping[str, Any]): The weights, or any nested state (e.g.
            ``{'state_dict': ..., 'optimizer': ...}``).
        source (str): What they are, for the message (a path).

    Raises:
        NonFiniteCheckpointError: naming the tensors and their counts.
    """
    bad = non_finite_tensors(state)
    if bad:
        raise NonFiniteCheckpointError(
            f'{source} holds non-finite values (the run that saved it '
            f'diverged) in {len(bad)} tensor(s): {listed(bad)}')


def finite_training_state(ckpt: Dict[str, Any], source: str) -> None:
    """:func:`check_finite` on the model weights and the optimizer state of
    a Runner checkpoint (``state_dict`` and ``optimizer``)."""
    check_finite(
        {k: ckpt[k]
         for k in ('state_dict', 'optimizer') if k in ckpt}, source)
