# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Fast and reference encoders agree; activation checkpointing is exact."""
import pytest
import torch

from hsnet_mm.models.encoders import CenterPivot4DEncoder
from hsnet_mm.models.layers import CenterPivotConv4d, FastCenterPivotConv4d


def encoder(**kwargs):
    torch.manual_seed(0)
    return CenterPivot4DEncoder((3, 6, 4),
                                squeeze_channels=(4, 8, 8),
                                mix_channels=(8, 8, 8),
                                **kwargs)


def pyramid(n, sizes, counts=(3, 6, 4)):
    torch.manual_seed(1)
    return [
        torch.rand(n, c, hq, wq, hs, ws, requires_grad=True)
        for (hq, wq, hs, ws), c in zip(sizes, counts)
    ]


SIZES = {
    'square': ((4, 4, 4, 4), (7, 7, 7, 7), (13, 13, 13, 13)),
    'odd_non_square': ((3, 5, 4, 3), (5, 9, 7, 5), (9, 17, 13, 9)),
}


def run(enc, n, sizes):
    x = pyramid(n, sizes)
    out = enc(x)
    out.square().sum().backward()
    grads = [t.grad for t in x] + [p.grad for p in enc.parameters()]
    return out, grads


@pytest.mark.parametrize('n', [1, 3])
@pytest.mark.parametrize('sizes', list(SIZES.values()), ids=list(SIZES))
def test_fast_equals_reference_forward_backward(n, sizes):
    ref, fast = encoder(impl='reference'), encoder(impl='fast')
    assert isinstance(ref.squeeze_blocks[0][0], CenterPivotConv4d)
    assert isinstance(fast.squeeze_blocks[0][0], FastCenterPivotConv4d)
    fast.load_state_dict(ref.state_dict())
    out_ref, grads_ref = run(ref, n, sizes)
    out_fast, grads_fast = run(fast, n, sizes)
    torch.testing.assert_close(out_fast, out_ref, rtol=0, atol=1e-5)
    # 1e-5 of the largest gradient: some gradients (of the GroupNorm biases
    # before another GroupNorm) are sums that cancel to rounding noise.
    scale = max(g.abs().max() for g in grads_ref).clamp(min=1.0)
    for g_fast, g_ref in zip(grads_fast, grads_ref):
        assert (g_fast - g_ref).abs().max() <= 1e-5 * scale


@pytest.mark.parametrize('sizes', list(SIZES.values()), ids=list(SIZES))
def test_fast_equals_reference_float64(sizes):
    """The same algorithm: equal to 1e-10 in float64, every gradient."""
    ref = encoder(impl='reference').double()
    fast = encoder(impl='fast').double()
    fast.load_state_dict(ref.state_dict())
    torch.manual_seed(1)
    x = [t.detach().double().requires_grad_() for t in pyramid(2, sizes)]
    x2 = [t.detach().clone().requires_grad_() for t in x]
    out_ref, out_fast = ref(x), fast(x2)
    out_ref.square().sum().backward()
    out_fast.square().sum().backward()
    torch.testing.assert_close(out_fast, out_ref, rtol=0, atol=1e-10)
    for a, b in zip(x2 + list(fast.parameters()), x + list(ref.parameters())):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize('impl', ['fast', 'reference'])
def test_checkpointing_same_output_and_grads(impl):
    plain, ckpt = encoder(impl=impl), encoder(impl=impl, with_cp=True)
    ckpt.load_state_dict(plain.state_dict())
    plain.train(), ckpt.train()
    out_plain, grads_plain = run(plain, 2, SIZES['square'])
    out_ckpt, grads_ckpt = run(ckpt, 2, SIZES['square'])
    torch.testing.assert_close(out_ckpt, out_plain, rtol=0, atol=1e-6)
    for g_ckpt, g_plain in zip(grads_ckpt, grads_plain):
        torch.testing.assert_close(g_ckpt, g_plain, rtol=0, atol=1e-6)


def test_conv4d_cfg_overrides_impl_and_bad_impl():
    enc = encoder(impl='fast', conv4d_cfg=dict(type='CenterPivotConv4d'))
    assert type(enc.mix_blocks[0][0]) is CenterPivotConv4d
    with pytest.raises(ValueError, match='impl'):
        encoder(impl='quick')
