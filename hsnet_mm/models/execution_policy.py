# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""How the model executes: the one home of the fast/reference switch.

Every component with more than one way to compute the same result reads
its choice from here, so "the reference model" is one setting,
``model=dict(type='HSNet', impl='reference', ...)`` (or ``model.impl =
'reference'`` on a built model), not a knob per component:

=================  ==========================  ============================
choice             ``impl='fast'`` (default)   ``impl='reference'``
=================  ==========================  ============================
backbone BN        folded into the convs       conv, then BatchNorm
                   (frozen ResNet)
backbone layout    channels-last               NCHW
correlation        one batched GEMM per        layer by layer, dense
                   level, masked-out support
                   columns skipped
4D convs           fewer 6D copies             the straightforward permutes
pairs per chunk    by device (below)           all pairs at once
=================  ==========================  ============================

Device-dependent choices are made at forward time from the inputs' device
(models are built on the CPU and moved): :func:`pair_chunk_size` chunks
pairs on a CPU only. ``impl='reference'`` overrides all of them; it is the
correctness oracle of the fast path (tests assert their equality).

A component takes part by having an ``impl`` attribute that it reads in
``forward``; :func:`set_impl` sets it on a module tree.
"""
from typing import Optional

import torch
import torch.nn as nn

#: The execution policies.
IMPLS = ('fast', 'reference')

#: On a CPU, the default chunk of pairs keeps the largest correlation level
#: of a chunk within this many bytes (1 pair at 400 px with ResNet-50, 2 at
#: 200 px; measured: 5 pairs at 400 px 1.9x and 8 pairs at 200 px 1.15x
#: faster than all at once: a chunk near the cache size saves the memory
#: traffic of a batch of 100 MB correlations).
CPU_CHUNK_BYTES = 16 * 2**20


def check_impl(impl: str) -> str:
    """Return ``impl`` if it is one of :data:`IMPLS`, else raise
    ``ValueError``."""
    if impl not in IMPLS:
        raise ValueError(
            f"impl must be one of {', '.join(map(repr, IMPLS))}, got "
            f'{impl!r}')
    return impl


def check_part_impls(impl: str, **parts: dict) -> None:
    """Refuse part configs that set an ``impl`` other than the model's
    (the policy is set once, on the model)."""
    check_impl(impl)
    for name, part in parts.items():
        if part.get('impl', impl) != impl:
            raise ValueError(
                f'model.{name}.impl={part["impl"]!r} but model.impl='
                f'{impl!r}: set the execution policy once, model.impl')


def set_impl(module: nn.Module, impl: str) -> None:
    """Set the execution policy of every component of ``module`` (itself
    included) that has an ``impl`` attribute."""
    check_impl(impl)
    for m in module.modules():
        if 'impl' in vars(m) or hasattr(type(m), 'impl'):
            m.impl = impl


def pair_chunk_size(impl: str, pair_chunk: Optional[int], per_pair_bytes: int,
                    num_pairs: int, device: torch.device) -> int:
    """(Query, support) pairs per neck + encoder call.

    Args:
        impl (str): the policy; ``'reference'`` runs all pairs at once.
        pair_chunk (int, optional): the user's choice (fast path only).
        per_pair_bytes (int): bytes of one pair's largest correlation
            level.
        num_pairs (int): N, the pairs to run.
        device (torch.device): where they run: a CPU chunks by
            :data:`CPU_CHUNK_BYTES`, other devices run all pairs at once.

    Returns:
        int: the chunk size, at least 1.
    """
    if impl == 'reference':
        return max(1, num_pairs)
    if pair_chunk is not None:
        return pair_chunk
    if device.type != 'cpu':
        return max(1, num_pairs)
    return max(1, min(num_pairs, CPU_CHUNK_BYTES // max(1, per_pair_bytes)))


def fold_bn(impl: str, device: torch.device) -> bool:
    """Whether a frozen backbone may fold BatchNorm into its convs."""
    return impl == 'fast'


def channels_last(impl: str, device: torch.device) -> bool:
    """Whether a backbone may run its convs on channels-last activations
    (oneDNN and cuDNN prefer it)."""
    return impl == 'fast'
