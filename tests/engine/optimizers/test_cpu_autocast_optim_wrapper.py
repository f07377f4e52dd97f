# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from hsnet_mm.engine import CPUAutocastOptimWrapper


def make(model, **kwargs):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return OPTIM_WRAPPERS.build(
        dict(type='CPUAutocastOptimWrapper', optimizer=optimizer, **kwargs))


def test_forward_runs_in_bf16_and_step_in_fp32():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    wrapper = make(model)
    assert isinstance(wrapper, CPUAutocastOptimWrapper)
    x = torch.randn(5, 4)
    with wrapper.optim_context(model):
        out = model(x)
    assert out.dtype == torch.bfloat16
    before = model.weight.detach().clone()
    wrapper.update_params(out.float().pow(2).mean())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(model.weight, before)
    # outside the context: float32 again
    assert model(x).dtype == torch.float32


def test_state_dict_is_an_optim_wrappers():
    model = nn.Linear(2, 2)
    plain = OptimWrapper(torch.optim.Adam(model.parameters()))
    assert make(model).state_dict().keys() == plain.state_dict().keys()


def test_only_bfloat16():
    with pytest.raises(ValueError, match='bfloat16'):
        make(nn.Linear(2, 2), dtype='float16')
