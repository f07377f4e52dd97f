# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Allow-list mmengine Runner checkpoints for PyTorch's ``weights_only`` load.

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
import pickle
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
