# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch

from hsnet_mm.models.encoders import CenterPivot4DEncoder, resize_query_dims


def pyramid(b, sizes, counts=(3, 6, 4)):
    return [torch.rand(b, c, s, s, s, s) for s, c in zip(sizes, counts)]


def small_encoder(**kwargs):
    return CenterPivot4DEncoder((3, 6, 4),
                                squeeze_channels=(4, 8, 8),
                                mix_channels=(8, 8, 8),
                                **kwargs)


@pytest.mark.parametrize('b', [1, 3])
def test_output_keeps_batch_dim(b):
    out = small_encoder()(pyramid(b, (4, 7, 13)))
    assert out.shape == (b, 8, 13, 13)


def test_changing_sizes_match_fresh_instance():
    """Official bug: the prune index is cached from the first size."""
    torch.manual_seed(0)
    enc = small_encoder()
    sizes = [(4, 7, 13), (5, 10, 20), (4, 7, 13), (6, 12, 24)]
    for s in sizes:
        x = pyramid(2, s)
        fresh = small_encoder()
        fresh.load_state_dict(enc.state_dict())
        torch.testing.assert_close(enc(x), fresh(x))


def test_non_square():
    enc = small_encoder()
    x = [
        torch.rand(1, 3, 4, 5, 4, 5),
        torch.rand(1, 6, 7, 9, 7, 9),
        torch.rand(1, 4, 13, 17, 13, 17)
    ]
    assert enc(x).shape == (1, 8, 13, 17)


def test_official_param_count_and_blocks():
    enc = CenterPivot4DEncoder((3, 6, 4))
    assert len(enc.squeeze_blocks) == 3 and len(enc.mix_blocks) == 2
    assert enc.squeeze_blocks[1][0].conv1.weight.shape == (16, 6, 5, 5)
    assert enc.squeeze_blocks[2][3].support_stride == 4
    assert enc.mix_blocks[0][6].support_stride == 1


def test_resize_query_dims_only():
    x = torch.rand(2, 3, 4, 4, 2, 3)
    out = resize_query_dims(x, (7, 7))
    assert out.shape == (2, 3, 7, 7, 2, 3)
    torch.testing.assert_close(out[:, :, 0, 0], x[:, :, 0, 0])
    torch.testing.assert_close(out[:, :, -1, -1], x[:, :, -1, -1])


def test_errors():
    enc = small_encoder()
    with pytest.raises(ValueError, match='pyramid levels'):
        enc(pyramid(1, (4, 7)))
    with pytest.raises(ValueError, match=r'level 1 must be'):
        enc(pyramid(1, (4, 7, 13), counts=(3, 5, 4)))
    # supports that squeeze to different sizes (e.g. VGG16 at 264 px)
    bad = [
        torch.rand(1, 3, 8, 8, 8, 8),
        torch.rand(1, 6, 16, 16, 16, 16),
        torch.rand(1, 4, 33, 33, 33, 33)
    ]
    with pytest.raises(ValueError, match='squeezed support dims'):
        enc(bad)
    with pytest.raises(ValueError, match='squeeze_kernels'):
        CenterPivot4DEncoder((3, 6))


def test_conv4d_cfg_builds_a_conv_registered_in_mmseg_models():
    from mmseg.registry import MODELS

    from hsnet_mm.models.layers import CenterPivotConv4d

    @MODELS.register_module(force=True)
    class CountingConv4d(CenterPivotConv4d):

        def __init__(self, *args, tag: str = '', **kwargs):
            super().__init__(*args, **kwargs)
            self.tag = tag

    try:
        enc = CenterPivot4DEncoder(
            (1, 2, 1),
            squeeze_channels=(4, 8),
            squeeze_kernels=((3, 3), (3, 3), (3, 3)),
            squeeze_strides=((2, 2), (2, 2), (2, 2)),
            mix_channels=(8, 8),
            mix_kernels=(3, 3),
            conv4d_cfg=dict(type='CountingConv4d', tag='mine'))
        convs = [m for m in enc.modules() if isinstance(m, CountingConv4d)]
        assert len(convs) == 3 * 2 + 2 * 2
        assert {c.tag for c in convs} == {'mine'}
    finally:
        MODELS.module_dict.pop('CountingConv4d')
