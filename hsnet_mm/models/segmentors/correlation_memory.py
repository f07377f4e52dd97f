# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Refuse a hypercorrelation that cannot fit in memory, before allocating it.

The 4D correlation of one pyramid level holds ``N * L * (Hq * Wq) * (Hs *
Ws)`` values: it grows with the fourth power of the image side. A 4096 x 4096
query would need hundreds of GB, and PyTorch would only fail (or the kernel
kill the process) deep inside the allocation. :func:`check_correlation_memory`
estimates the need from the query's features and refuses with the estimate
and the largest square input size that fits.

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``N`` (query,
support) pairs, ``L`` layers of a level, ``Hq, Wq`` / ``Hs, Ws`` query /
support feature size, ``H, W`` input size.
"""
import math
import os
from typing import Optional, Sequence, Tuple

import torch

from ...structures import FeatureGroups

#: The encoder's peak is a few times the correlation itself: the
#: correlation, the permuted copies around the first squeeze convs and their
#: outputs. An estimate, to refuse hopeless sizes, not a precise budget.
PEAK_FACTOR = 3.0


def correlation_bytes(level_shapes: Sequence[Tuple[int, int, int]],
                      num_pairs: int, element_size: int) -> int:
    """Bytes of the hypercorrelation pyramid.

    Args:
        level_shapes (Sequence[tuple]): ``(L, Hq, Wq)`` per level; the
            support feature size equals the query's (one input size).
        num_pairs (int): N.
        element_size (int): Bytes per value (4 for float32).

    Returns:
        int: ``sum_levels N * L * (Hq * Wq) ** 2 * element_size``.
    """
    return sum(num_pairs * layers * (h * w)**2 * element_size
               for layers, h, w in level_shapes)


def available_memory_bytes(device: torch.device) -> Optional[int]:
    """Free memory of ``device``: CUDA's free bytes, or Linux's MemAvailable.

    Returns:
        int | None: Bytes, or None when it cannot be read (then no check).
    """
    if device.type == 'cuda':
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != 'cpu' or not os.path.exists('/proc/meminfo'):
        return None
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) * 1024
    return None


def _gib(num_bytes: float) -> str:
    return f'{num_bytes / 2**30:.1f} GiB'


def check_correlation_memory(level_shapes: Sequence[Tuple[int, int, int]],
                             num_pairs: int,
                             input_size: Tuple[int, int],
                             element_size: int,
                             device: torch.device,
                             available: Optional[int] = None) -> None:
    """Raise ``MemoryError`` when the pyramid cannot fit on ``device``.

    Args:
        level_shapes (Sequence[tuple]): ``(L, Hq, Wq)`` per level.
        num_pairs (int): N.
        input_size (tuple[int, int]): (H, W), for the message.
        element_size (int): Bytes per value.
        device (torch.device): Where the pyramid would live.
        available (int, optional): Free bytes; read from the device when
            None.

    Raises:
        MemoryError: the estimated peak exceeds the free memory; the message
            gives both and the largest square input side that fits.
    """
    if available is None:
        available = available_memory_bytes(device)
    if available is None:
        return
    need = PEAK_FACTOR * correlation_bytes(level_shapes, num_pairs,
                                           element_size)
    if need <= available:
        return
    h, w = input_size
    # memory grows with the 4th power of the side; round down to 32 px
    side = int(math.sqrt(h * w) * (available / need)**0.25) // 32 * 32
    raise MemoryError(
        f'the 4D hypercorrelation of {num_pairs} (query, support) pair(s) '
        f'at {h} x {w} px needs about {_gib(need)} ({PEAK_FACTOR:g} x the '
        f'correlation itself), but {device} has {_gib(available)} free; '
        f'the largest square input that fits is about {max(side, 32)} x '
        f'{max(side, 32)} px (resize the images, or use fewer shots or a '
        'smaller batch)')


def check_pyramid_memory(query_feats: FeatureGroups, num_pairs: int,
                         input_size: Tuple[int, int]) -> None:
    """:func:`check_correlation_memory` of the pyramid that the query's
    backbone features ``query_feats`` will correlate with ``num_pairs``
    supports at once (on the features' device)."""
    check_correlation_memory([(len(level), *level[0].shape[-2:])
                              for level in query_feats], num_pairs,
                             tuple(input_size),
                             query_feats[0][0].element_size(),
                             query_feats[0][0].device)
