# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The whole fast model equals the whole reference model.

Fast: folded channels-last backbone, batched sparse correlation, fast 4D
convs, pairs in chunks. Reference: conv then BN on NCHW, per-layer dense
correlation, the reference 4D conv, all pairs at once.
"""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import hsnet_mm  # noqa: F401
from tests.helpers import tiny_hsnet_cfg


def build(impl, frozen=True):
    cfg = tiny_hsnet_cfg(frozen=frozen)
    cfg.update(impl=impl, pair_chunk=1)  # reference: all pairs at once
    torch.manual_seed(0)
    return MODELS.build(cfg)


def randomise_bn(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 2.0)


@pytest.mark.parametrize('b,k,h,w', [(1, 1, 64, 64), (2, 3, 72, 56)])
def test_fast_model_equals_reference(monkeypatch, device, b, k, h, w):
    from hsnet_mm.models.layers import correlation
    monkeypatch.setattr(correlation, 'SPARSE_SUPPORT_MIN_SIZE', 0)
    init_default_scope('mmseg')
    ref, fast = build('reference'), build('fast')
    randomise_bn(ref)
    fast.load_state_dict(ref.state_dict())
    ref, fast = ref.to(device), fast.to(device)
    torch.manual_seed(1)
    inputs = dict(
        query_img=torch.randn(b, 3, h, w),
        support_imgs=torch.randn(b, k, 3, h, w),
        support_masks=torch.zeros(b, k, h, w))
    inputs['support_masks'][..., h // 4:h // 2, w // 3:] = 1  # sparse
    inputs = {key: v.to(device) for key, v in inputs.items()}
    with torch.no_grad():
        out_ref = ref.encode_decode(inputs)
        out_fast = fast.encode_decode(inputs)
    torch.testing.assert_close(out_fast, out_ref, rtol=0, atol=1e-5)
    # a training step: the learnable parameters get the same gradients
    ref.train(), fast.train()
    grads = []
    for model in (ref, fast):
        logits = model.encode_decode(inputs)
        logits.square().mean().backward()
        grads.append({
            n: p.grad
            for n, p in model.named_parameters() if p.requires_grad
        })
    assert grads[0].keys() == grads[1].keys() and grads[0]
    scale = max(g.abs().max() for g in grads[0].values()).clamp(min=1.0)
    for name, g_ref in grads[0].items():
        assert (grads[1][name] - g_ref).abs().max() <= 1e-5 * scale, name
