# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Autocast state, the same on torch 2.1-2.13 (whose API changed in 2.4)."""
from typing import Optional

import torch


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
