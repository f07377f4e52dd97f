# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from hsnet_mm.models.decode_heads import ContextDecodeHead


def test_shapes_keys_and_params():
    head = ContextDecodeHead()
    out = head(torch.rand(2, 128, 6, 9))
    assert out.shape == (2, 2, 12, 18)
    assert sorted(head.state_dict()) == sorted([
        'decoder1.0.weight', 'decoder1.0.bias', 'decoder1.2.weight',
        'decoder1.2.bias', 'decoder2.0.weight', 'decoder2.0.bias',
        'conv_seg.weight', 'conv_seg.bias'
    ])
    assert head.conv_seg.kernel_size == (3, 3)
    assert head.dropout is None
    n = sum(p.numel() for p in head.parameters())
    assert n == (128 * 128 * 9 + 128) + (128 * 64 * 9 + 64) + (
        64 * 64 * 9 + 64) + (64 * 2 * 9 + 2)


def test_loss_resizes_to_label():
    head = ContextDecodeHead(in_channels=8, channels=4, hidden_channels=(8, 4))
    samples = []
    for _ in range(2):
        ds = SegDataSample()
        ds.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, 20, 20)))
        samples.append(ds)
    losses = head.loss(torch.rand(2, 8, 5, 5), samples, {})
    assert losses['loss_ce'].requires_grad
    assert set(losses) == {'loss_ce', 'acc_seg'}


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_classes must be 2'):
        ContextDecodeHead(num_classes=3)
    with pytest.raises(ValueError, match='hidden_channels'):
        ContextDecodeHead(hidden_channels=(128, 32))
