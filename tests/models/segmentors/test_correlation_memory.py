# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch

from hsnet_mm.models.segmentors.correlation_memory import (
    PEAK_FACTOR, available_memory_bytes, check_correlation_memory,
    correlation_bytes)


def test_correlation_bytes_by_hand():
    # ResNet-50 at 400 px: 3 x 13^4 + 6 x 25^4 + 4 x 50^4 values per pair
    shapes = [(3, 13, 13), (6, 25, 25), (4, 50, 50)]
    values = 3 * 13**4 + 6 * 25**4 + 4 * 50**4
    assert correlation_bytes(shapes, 2, 4) == 2 * values * 4


def test_check_refuses_only_above_the_free_memory():
    shapes = [(1, 10, 10)]
    need = PEAK_FACTOR * correlation_bytes(shapes, 1, 4)
    cpu = torch.device('cpu')
    check_correlation_memory(shapes, 1, (80, 80), 4, cpu, available=need)
    with pytest.raises(MemoryError, match='largest square input'):
        check_correlation_memory(
            shapes, 1, (80, 80), 4, cpu, available=need - 1)


def test_available_memory_reads_the_cpu():
    free = available_memory_bytes(torch.device('cpu'))
    assert free is None or free > 0
    assert available_memory_bytes(torch.device('meta')) is None
