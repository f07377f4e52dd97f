# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Mixed-precision training steps on every device: CUDA float16 with dynamic
loss scaling (an overflowing step is skipped, not applied as NaN) and
bfloat16; CPU bfloat16 autocast."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS, OPTIM_WRAPPERS

import hsnet_mm  # noqa: F401
from tests.helpers import tiny_hsnet_cfg
from tests.models.segmentors.test_hsnet import packed_batch


def build(device, dtype):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(tiny_hsnet_cfg()).to(device).train()
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3)
    if device.type == 'cuda':
        wrapper = dict(
            type='AmpOptimWrapper', loss_scale='dynamic', dtype=dtype)
    else:
        if dtype == 'float16':
            pytest.skip('CPU autocast trains in bfloat16 only')
        wrapper = dict(type='CPUAutocastOptimWrapper', dtype=dtype)
    return model, OPTIM_WRAPPERS.build(dict(wrapper, optimizer=optimizer))


def params(model):
    return {
        n: p.detach().clone()
        for n, p in model.named_parameters() if p.requires_grad
    }


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_steps_train(device, dtype):
    model, wrapper = build(device, dtype)
    batch = packed_batch(b=2, k=2)
    before = params(model)
    losses = [model.train_step(batch, wrapper)['loss'] for _ in range(3)]
    assert all(torch.isfinite(v) for v in losses), losses
    after = params(model)
    assert any(not torch.equal(before[n], after[n]) for n in before)
    assert all(torch.isfinite(p).all() for p in after.values())


@pytest.mark.cuda
@pytest.mark.skipif(
    not torch.cuda.is_available(), reason='CUDA is not available')
def test_float16_overflow_step_is_skipped():
    """A loss scale that overflows float16 gradients: the step is skipped
    (no NaN reaches the weights) and the scale is lowered."""
    model, wrapper = build(torch.device('cuda'), 'float16')
    wrapper.loss_scaler.update(2.0**60)  # force an overflow
    scale = wrapper.loss_scaler.get_scale()
    before = params(model)
    model.train_step(packed_batch(b=1, k=1), wrapper)
    after = params(model)
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert wrapper.loss_scaler.get_scale() < scale
