# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The autocast state, on every supported torch."""
import pytest
import torch

from hsnet_mm.utils.autocast import (autocast_dtype, autocast_enabled,
                                     check_input_dtype)


def test_cpu_autocast_state_and_dtype():
    assert not autocast_enabled('cpu')
    assert autocast_dtype('cpu') is None
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert autocast_enabled('cpu')
        assert autocast_dtype('cpu') == torch.bfloat16
        # another device type's state is its own
        assert not autocast_enabled('cuda')
        assert autocast_dtype('cuda') is None
    assert not autocast_enabled('cpu')


def test_unknown_device_types_are_never_autocast():
    assert not autocast_enabled('meta')
    assert autocast_dtype('meta') is None


def test_input_dtype_must_be_the_weights_outside_autocast():
    model = torch.nn.Linear(2, 2)
    check_input_dtype(model, torch.zeros(1, 2))
    with pytest.raises(TypeError, match='float64.*float32.*to'):
        check_input_dtype(model, torch.zeros(1, 2, dtype=torch.float64))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        check_input_dtype(model, torch.zeros(1, 2, dtype=torch.bfloat16))
    check_input_dtype(torch.nn.ReLU(), torch.zeros(1, dtype=torch.float64))
    with pytest.raises(TypeError, match='normalised float images'):
        check_input_dtype(model, torch.zeros(1, 2, dtype=torch.uint8))
