# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""support_conv3d: the plain 3D conv's values and gradients, chunked."""
import pytest
import torch
import torch.nn.functional as F

from hsnet_mm.models.layers import support_conv3d as module


@pytest.mark.parametrize('with_bias', [True, False])
@pytest.mark.parametrize('input_grad', [True, False])
def test_support_conv3d_chunked_backward(monkeypatch, with_bias, input_grad):
    """The backward over chunks of query positions gives the gradients of
    the plain 3D conv (chunks forced small here)."""
    monkeypatch.setattr(module, 'BACKWARD_CHUNK_BYTES', 3 * 4 * 5 * 5 * 4)
    torch.manual_seed(0)
    x = torch.randn(2, 3, 10, 9, 7, requires_grad=input_grad)
    weight = torch.randn(4, 3, 5, 5, requires_grad=True)
    bias = torch.randn(4, requires_grad=True) if with_bias else None
    out = module.support_conv3d(x, weight, bias, 2, 2)
    ref = F.conv3d(x, weight.unsqueeze(2), bias, (1, 2, 2), (0, 2, 2))
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
    grad = torch.randn_like(ref)
    inputs = [
        t for t in (x, weight, bias) if t is not None and t.requires_grad
    ]
    got = torch.autograd.grad(out, inputs, grad)
    want = torch.autograd.grad(ref, inputs, grad)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-5)


def test_support_conv3d_double_backward(monkeypatch):
    """create_graph=True through the chunked backward (chunks forced
    small): the second-order gradients of the plain 3D conv (float64)."""
    monkeypatch.setattr(module, 'BACKWARD_CHUNK_BYTES', 3 * 6 * 5 * 8 * 2)
    support_conv3d = module.support_conv3d
    torch.manual_seed(0)
    x = torch.randn(1, 3, 6, 6, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(4, dtype=torch.float64, requires_grad=True)

    def second_order(conv):
        y = conv(x)
        gx, = torch.autograd.grad(y.square().sum(), x, create_graph=True)
        return torch.autograd.grad(gx.square().sum(), (x, weight, bias))

    got = second_order(lambda t: support_conv3d(t, weight, bias, 2, 1))
    want = second_order(lambda t: F.conv3d(t, weight.unsqueeze(2), bias,
                                           (1, 2, 2), (0, 1, 1)))
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w)
