# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Load mmengine Runner checkpoints under PyTorch's ``weights_only`` default.

Since PyTorch 2.6 ``torch.load`` defaults to ``weights_only=True``, which
unpickles only allow-listed globals, and mmengine 0.10.7 keeps the default. A
Runner checkpoint holds more than tensors: its ``message_hub`` keeps
``HistoryBuffer`` objects with NumPy arrays, and its ``meta`` NumPy scalars,
so ``load_checkpoint`` and ``Runner.resume`` fail with ``UnpicklingError``.
:func:`register_safe_globals` allow-lists exactly those classes.

A pickled ``HistoryBuffer`` names its statistics methods as
``getattr(HistoryBuffer, 'mean')``. Allow-listing ``builtins.getattr`` itself
would let any file reach any attribute of any allowed class, so the name
``builtins.getattr`` is bound to :func:`_history_buffer_getattr`, which only
returns public methods of ``HistoryBuffer`` (PyTorch >= 2.6, which takes
named globals; earlier versions load with ``weights_only=False`` by default).
"""
import os
import pickle
import zipfile
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from torch import _weights_only_unpickler

_registered = False


def _numpy_multiarray() -> Any:
    """NumPy's ``multiarray`` module (``numpy._core`` from NumPy 2)."""
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy 1.x before 1.26
        from numpy.core import multiarray
    return multiarray


def _numpy_dtype_classes() -> List[type]:
    """The classes of NumPy's dtype instances (``np.dtype[float64]``...).

    Unpickling a dtype builds an instance of one of them.
    """
    classes = {type(np.dtype(code)) for code in np.typecodes['All']}
    dtypes = getattr(np, 'dtypes', None)  # NumPy >= 1.25
    for name in dir(dtypes) if dtypes is not None else ():
        value = getattr(dtypes, name)
        if isinstance(value, type) and issubclass(value, np.dtype):
            classes.add(value)
    # Object arrays could carry arbitrary objects: not needed, not allowed.
    classes.discard(type(np.dtype(object)))
    return sorted(classes, key=lambda c: c.__name__)


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` for unpickling: only public methods of HistoryBuffer.

    Args:
        obj (Any): Must be the ``HistoryBuffer`` class.
        name (str): A public method name, e.g. 'mean'.

    Returns:
        Callable: ``getattr(HistoryBuffer, name)``.

    Raises:
        pickle.UnpicklingError: for any other object or attribute.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    if (obj is HistoryBuffer and isinstance(name, str)
            and not name.startswith('_')
            and callable(getattr(HistoryBuffer, name, None))):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refusing getattr({obj!r}, {name!r}) in a weights_only load: only '
        'public methods of HistoryBuffer are allowed')


def safe_globals_for_runner_checkpoints(
) -> List[Union[Callable, Tuple[Callable, str]]]:
    """The globals a Runner checkpoint needs beyond PyTorch's defaults.

    NumPy functions are listed under both module paths, ``numpy.core`` (how
    NumPy 1.x pickles them) and ``numpy._core`` (NumPy 2.x), so checkpoints
    saved under either load under either; ``builtins.getattr`` is bound to a
    getattr restricted to ``HistoryBuffer`` methods.

    Returns:
        list: Classes and functions, and ``(object, 'module.name')`` pairs
        for the aliases, as :func:`torch.serialization.add_safe_globals`
        takes them.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    multiarray = _numpy_multiarray()
    safe: List[Union[Callable, Tuple[Callable, str]]] = [
        HistoryBuffer, np.ndarray, np.dtype, range
    ]
    safe += _numpy_dtype_classes()
    for name in ('_reconstruct', 'scalar'):
        func = getattr(multiarray, name)
        for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            safe.append((func, f'{module}.{name}'))
    safe.append((_history_buffer_getattr, 'builtins.getattr'))
    return safe


def _supports_named_globals() -> bool:
    """Whether ``add_safe_globals`` takes ``(object, name)`` pairs.

    Probed rather than read from the version: a pair given to a PyTorch that
    does not take them would break every later ``weights_only`` load.
    """
    probe = (_history_buffer_getattr, 'hsnet_mm.named_global_probe')
    try:
        with torch.serialization.safe_globals([probe]):
            allowed = _weights_only_unpickler._get_user_allowed_globals()
    except Exception:  # older PyTorch: no context manager or no pairs
        return False
    return allowed.get(probe[1]) is probe[0]


def register_safe_globals() -> bool:
    """Allow-list the globals of mmengine Runner checkpoints for torch.load.

    Idempotent. A no-op on PyTorch < 2.4, which has no
    ``torch.serialization.add_safe_globals`` (and loads with
    ``weights_only=False`` by default anyway).

    Returns:
        bool: True when the globals are registered (now or before).
    """
    global _registered
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return False
    if _registered:
        return True
    safe = safe_globals_for_runner_checkpoints()
    if not _supports_named_globals():
        # Objects under their own name only; never a renamed getattr.
        safe = [s for s in safe if not isinstance(s, tuple)] + [
            getattr(_numpy_multiarray(), name)
            for name in ('_reconstruct', 'scalar')
        ]
    add_safe_globals(safe)
    _registered = True
    return True


def _is_torch_file(path: str) -> bool:
    """Whether ``path`` starts like a file of ``torch.save``."""
    if zipfile.is_zipfile(path):
        return True
    with open(path, 'rb') as f:
        return f.read(1) == pickle.PROTO  # legacy (pre-1.6) format


def load_checkpoint_file(path: Union[str, os.PathLike],
                         trusted: bool = False) -> dict:
    """Load a checkpoint file onto the CPU.

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
        ValueError: the file is not a torch checkpoint, holds objects that a
            ``weights_only`` load refuses, or is not a dict.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if not _is_torch_file(path):
        raise ValueError(f'{path} is not a torch checkpoint: neither a zip '
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
            raise ValueError(
                f'{path} holds objects that a weights_only load refuses; if '
                'you trust the file, load it with trusted=True. '
                f'PyTorch said: {e}') from e
        raise ValueError(f'{path} is not a torch checkpoint: {e}') from e
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise ValueError(f'{path} is not a torch checkpoint: {e}') from e
    if not isinstance(ckpt, dict):
        raise ValueError(f'{path} holds a {type(ckpt).__name__}, not a '
                         'checkpoint dict')
    return ckpt
