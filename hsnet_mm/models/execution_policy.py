# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""How the model executes: the one home of the fast/reference switch and
of the device-dependent execution defaults.

Every component with more than one way to compute the same result reads
its choice from here, so "the reference model" is one setting,
``model=dict(type='HSNet', impl='reference', ...)`` (or ``model.impl =
'reference'`` on a built model), not a knob per component. Device-dependent
choices are made at forward time from the inputs' device (models are built
on the CPU and moved); ``impl='reference'`` overrides all of them: it is
the correctness oracle of the fast path (tests assert their equality).

====================  ========================  ==========================
``impl='fast'``       CPU                       CUDA (and other devices)
====================  ========================  ==========================
backbone BN           folded into the convs     folded into the convs
                      (frozen ResNet)           (exact up to rounding;
                                                device-independent)
backbone layout       channels-last (oneDNN:    NCHW: no GPU measurement
                      ~1.15x fp32, ~1.3x bf16)  yet, so the safest (the
                                                reference layout)
correlation           one batched GEMM per      one batched GEMM per
                      level; masked-out         level, dense: the per-pair
                      support columns skipped   gather syncs the device;
                      (1.4x at 25% masks)       safest until measured
4D convs              fewer 6D copies           fewer 6D copies (same ops,
                                                no device-specific path)
pairs per chunk       the correlation of a      all pairs at once (memory
                      chunk within 16 MiB       is checked before)
                      (1.9x on 5 shots)
====================  ========================  ==========================

``impl='reference'``: conv then BN on NCHW, layer-by-layer dense
correlation, the straightforward 4D conv permutes, all pairs at once, on
every device.

A component takes part by having an ``impl`` attribute that it reads in
``forward``; :func:`set_impl` sets it on a module tree.

**Export** (:mod:`hsnet_mm.deploy`): while a graph is traced for ONNX
(:func:`exporting`), the fast path takes its device-independent choices
only: BN folded, NCHW, the dense correlation (the sparse one's gather is
data-dependent) and all pairs at once (a graph has no chunk loop). The
same results, as the tests of the fast path assert.
"""
from typing import Optional

import torch
import torch.nn as nn

from ..utils.cli import UserError

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
        raise UserError(
            f"impl must be one of {', '.join(map(repr, IMPLS))}, got "
            f'{impl!r}')
    return impl


def check_part_impls(impl: str, **parts: dict) -> None:
    """Refuse part configs that set an ``impl`` other than the model's
    (the policy is set once, on the model)."""
    check_impl(impl)
    for name, part in parts.items():
        if part.get('impl', impl) != impl:
            raise UserError(
                f'model.{name}.impl={part["impl"]!r} but model.impl='
                f'{impl!r}: set the execution policy once, model.impl')


def set_impl(module: nn.Module, impl: str) -> None:
    """Set the execution policy of every component of ``module`` (itself
    included) whose ``impl`` attribute holds one (an unrelated ``impl``
    attribute, e.g. of a third-party module, is left alone)."""
    check_impl(impl)
    for m in module.modules():
        if getattr(m, 'impl', None) in IMPLS:
            m.impl = impl


def exporting() -> bool:
    """Whether the model is being traced for an ONNX export."""
    return torch.onnx.is_in_onnx_export()


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
    if impl == 'reference' or exporting():
        return max(1, num_pairs)
    if pair_chunk is not None:
        return max(1, min(pair_chunk, num_pairs))
    if device.type != 'cpu':
        return max(1, num_pairs)
    return max(1, min(num_pairs, CPU_CHUNK_BYTES // max(1, per_pair_bytes)))


def fold_bn(impl: str, device: torch.device) -> bool:
    """Whether a frozen backbone may fold BatchNorm into its convs (every
    device: the same features up to float rounding, one pass less)."""
    return impl == 'fast'


def channels_last(impl: str, device: torch.device) -> bool:
    """Whether a backbone may run its convs on channels-last activations:
    on a CPU (measured, oneDNN); elsewhere NCHW until a GPU measurement
    says otherwise."""
    return impl == 'fast' and device.type == 'cpu' and not exporting()


def sparse_correlation(impl: str, device: torch.device) -> bool:
    """Whether the correlation may skip masked-out support positions: on a
    CPU (measured); elsewhere the dense GEMM (the gather loop reads the
    mask counts back to the host, a device sync per pair) until a GPU
    measurement says otherwise."""
    return impl == 'fast' and device.type == 'cpu' and not exporting()
