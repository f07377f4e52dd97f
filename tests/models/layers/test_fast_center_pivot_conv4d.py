# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The fast 4D conv equals the reference one, forward and backward."""
import pytest
import torch
from mmseg.registry import MODELS

from hsnet_mm.models.layers import CenterPivotConv4d, FastCenterPivotConv4d


@pytest.mark.parametrize('n', [1, 3])
@pytest.mark.parametrize('k,stride,size', [(3, 1, (3, 3, 3, 3)),
                                           (3, 2, (4, 5, 7, 6)),
                                           (5, 4, (5, 3, 9, 13)),
                                           (5, 3, (6, 7, 5, 8)),
                                           (3, 4, (2, 3, 3, 2))])
def test_fast_equals_reference(n, k, stride, size):
    torch.manual_seed(0)
    ref = CenterPivotConv4d(3, 5, k, stride)
    fast = FastCenterPivotConv4d(3, 5, k, stride)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(n, 3, *size, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    out_ref, out_fast = ref(x), fast(x2)
    assert out_fast.shape == out_ref.shape
    torch.testing.assert_close(out_fast, out_ref, rtol=0, atol=1e-5)
    grad = torch.randn_like(out_ref)
    out_ref.backward(grad)
    out_fast.backward(grad)
    torch.testing.assert_close(x2.grad, x.grad, rtol=0, atol=1e-5)
    for (name, p_ref), p_fast in zip(ref.named_parameters(),
                                     fast.parameters()):
        torch.testing.assert_close(
            p_fast.grad, p_ref.grad, rtol=1e-5, atol=1e-5, msg=name)


def test_same_state_dict_keys_and_registry():
    ref = CenterPivotConv4d(2, 4, 3, 2)
    fast = MODELS.build(
        dict(
            type='FastCenterPivotConv4d',
            in_channels=2,
            out_channels=4,
            kernel_size=3,
            support_stride=2))
    assert isinstance(fast, FastCenterPivotConv4d)
    assert list(fast.state_dict()) == list(ref.state_dict())
    assert ['conv1.weight', 'conv1.bias', 'conv2.weight',
            'conv2.bias'] == list(fast.state_dict())


def test_bad_arguments():
    with pytest.raises(ValueError, match='odd'):
        FastCenterPivotConv4d(1, 1, 4)
    with pytest.raises(ValueError, match='support_stride'):
        FastCenterPivotConv4d(1, 1, 3, 0)
    with pytest.raises(ValueError, match='6D'):
        FastCenterPivotConv4d(1, 1, 3)(torch.randn(1, 1, 3, 3))
