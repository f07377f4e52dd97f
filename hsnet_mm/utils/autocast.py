# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Autocast state, the same on torch 2.1-2.13 (whose API changed in 2.4)."""
import contextlib
from typing import ContextManager, Optional

import torch
import torch.nn as nn


def autocast_enabled(device_type: str) -> bool:
    """Whether autocast is on for ``device_type`` ('cpu', 'cuda', ...;
    False for types autocast does not know, e.g. 'meta')."""
    if device_type not in ('cpu', 'cuda', 'xpu', 'hpu', 'mps', 'xla'):
        return False
    try:  # torch >= 2.4
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch 2.1-2.3: CPU and CUDA only
        if device_type == 'cpu':
            return torch.is_autocast_cpu_enabled()
        return device_type == 'cuda' and torch.is_autocast_enabled()
    except RuntimeError:  # a type this build's autocast does not know
        return False


def autocast_dtype(device_type: str) -> Optional[torch.dtype]:
    """The autocast dtype of ``device_type`` while autocast is on there,
    else None."""
    if not autocast_enabled(device_type):
        return None
    try:  # torch >= 2.4
        return torch.get_autocast_dtype(device_type)
    except AttributeError:  # torch 2.1-2.3
        if device_type == 'cpu':
            return torch.get_autocast_cpu_dtype()
        return torch.get_autocast_gpu_dtype()


def check_input_dtype(model: nn.Module, x: torch.Tensor) -> None:
    """Raise ``TypeError`` when ``x``'s dtype is not that of ``model``'s
    weights outside autocast (a float64 image into a float32 model)."""
    if not x.is_floating_point():
        raise TypeError(
            f'the images are {x.dtype}: the model takes normalised float '
            'images ((x - mean) / std, as EpisodeDataPreProcessor makes '
            'them)')
    weight = next(model.parameters(), None)
    if (weight is not None and x.dtype != weight.dtype
            and not autocast_enabled(x.device.type)):
        raise TypeError(
            f'the images are {x.dtype} but the model\'s weights are '
            f'{weight.dtype}: cast them with .to({weight.dtype})')


#: the ``--amp-dtype`` choices; 'auto': float16 on CUDA, bfloat16 elsewhere
AMP_DTYPES = ('auto', 'float16', 'bfloat16')


def resolve_amp_dtype(name: str, device_type: str) -> torch.dtype:
    """The autocast dtype of an ``--amp-dtype`` choice on a device type.

    Args:
        name (str): one of :data:`AMP_DTYPES`.
        device_type (str): 'cuda', 'cpu', ...

    Returns:
        torch.dtype: float16 or bfloat16.

    Raises:
        UserError: an unknown name, or float16 off CUDA (CPU autocast
            covers every op in bfloat16 only).
    """
    from .cli import UserError
    if name not in AMP_DTYPES:
        raise UserError(f'amp dtype must be one of {AMP_DTYPES}, got '
                        f'{name!r}')
    if name == 'auto':
        return torch.float16 if device_type == 'cuda' else torch.bfloat16
    if name == 'float16' and device_type != 'cuda':
        raise UserError(f'float16 autocast needs CUDA (this runs on '
                        f'{device_type}): use bfloat16')
    return getattr(torch, name)


def amp_context(name: Optional[str], device_type: str) -> ContextManager:
    """``torch.autocast`` for an ``--amp-dtype`` choice (see
    :func:`resolve_amp_dtype`), or a no-op context when ``name`` is None."""
    if name is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type, resolve_amp_dtype(name, device_type))
