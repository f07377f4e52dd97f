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


def _to_channels_last_6d(x):
    return x.permute(0, 2, 3, 4, 5, 1).contiguous().permute(0, 5, 1, 2, 3, 4)


@pytest.mark.parametrize('n', [1, 2])
@pytest.mark.parametrize('k,stride,size', [(3, 1, (3, 4, 2, 2)),
                                           (3, 2, (4, 5, 7, 6)),
                                           (5, 4, (5, 3, 9, 13)),
                                           (3, 4, (2, 3, 3, 2))])
def test_channels_last_input_equals_reference(n, k, stride, size):
    """A channels-last 6D input (what the fast layers hand on) takes the
    channels-last paths: the same output and gradients."""
    from hsnet_mm.models.layers.conv4d_layout import is_channels_last_6d
    torch.manual_seed(0)
    ref = CenterPivotConv4d(3, 5, k, stride)
    fast = FastCenterPivotConv4d(3, 5, k, stride)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(n, 3, *size, requires_grad=True)
    x_cl = _to_channels_last_6d(x.detach()).requires_grad_()
    assert is_channels_last_6d(x_cl) and not is_channels_last_6d(x)
    out_ref, out_fast = ref(x), fast(x_cl)
    assert is_channels_last_6d(out_fast)
    torch.testing.assert_close(out_fast, out_ref, rtol=0, atol=1e-5)
    grad = torch.randn_like(out_ref)
    out_ref.backward(grad)
    out_fast.backward(grad)
    torch.testing.assert_close(x_cl.grad, x.grad, rtol=0, atol=1e-5)
    for p_ref, p_fast in zip(ref.parameters(), fast.parameters()):
        torch.testing.assert_close(
            p_fast.grad, p_ref.grad, rtol=1e-5, atol=1e-5)


def test_cpu_bf16_training_uses_2d_convs(monkeypatch):
    """CPU half-precision training avoids the slow bf16 3D conv backward
    and still computes what the reference computes."""
    import torch.nn.functional as F
    torch.manual_seed(0)
    ref = CenterPivotConv4d(3, 4, 5, 4)
    fast = FastCenterPivotConv4d(3, 4, 5, 4)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(2, 3, 4, 5, 9, 13)

    def no_conv3d(*args, **kwargs):
        raise AssertionError('a 3D conv ran')

    with torch.autocast('cpu', dtype=torch.bfloat16):
        out_ref = ref(x)
        monkeypatch.setattr(F, 'conv3d', no_conv3d)
        out_fast = fast(x)
    assert out_fast.dtype == out_ref.dtype == torch.bfloat16
    torch.testing.assert_close(
        out_fast.float(), out_ref.float(), rtol=0.02, atol=0.05)
    out_fast.float().sum().backward()
    assert all(p.grad is not None for p in fast.parameters())


def test_channels_last_weights():
    """A model converted with ``.to(memory_format=torch.channels_last)``
    (the CUDA idiom) runs every path and gives the reference's output."""
    torch.manual_seed(0)
    for k, stride, size in [(3, 1, (4, 3, 6, 5)), (3, 2, (4, 3, 6, 5)),
                            (3, 1, (5, 4, 2, 2))]:
        ref = CenterPivotConv4d(3, 4, k, stride)
        fast = FastCenterPivotConv4d(3, 4, k, stride)
        fast.load_state_dict(ref.state_dict())
        fast = fast.to(memory_format=torch.channels_last)
        x = torch.randn(2, 3, *size)
        torch.testing.assert_close(fast(x), ref(x), rtol=0, atol=1e-5)
