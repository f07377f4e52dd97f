# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""EpisodeDataPreProcessor: stack, normalise, binarise, check a batch."""
import pytest
import torch
from mmseg.registry import MODELS

from hsnet_mm.models import EpisodeDataPreProcessor

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)


def episodes(b=2, k=1, h=6, w=5, value=128, dtype=torch.uint8):
    """A collated batch (lists of B tensors) of constant images; mask of
    episode ``i``: its first ``i + 1`` rows are 1."""
    inputs = dict(query_img=[], support_imgs=[], support_masks=[])
    for i in range(b):
        inputs['query_img'].append(torch.full((3, h, w), value, dtype=dtype))
        inputs['support_imgs'].append(
            torch.full((k, 3, h, w), value, dtype=dtype))
        mask = torch.zeros(k, h, w, dtype=torch.uint8)
        mask[:, :i + 1] = 1
        inputs['support_masks'].append(mask)
    return dict(inputs=inputs, data_samples=[f'sample{i}' for i in range(b)])


def test_images_are_normalised_with_imagenet_defaults():
    pre = EpisodeDataPreProcessor()
    out = pre(episodes(b=2, k=3, value=200))
    query, supports = out['inputs']['query_img'], out['inputs']['support_imgs']
    assert query.shape == (2, 3, 6, 5) and query.dtype == torch.float32
    assert supports.shape == (2, 3, 3, 6, 5)
    expected = ((200 - MEAN) / STD).expand(3, 6, 5)
    assert torch.allclose(query[1], expected)
    assert torch.allclose(supports[1, 2], expected)


@pytest.mark.parametrize('dtype', [torch.uint8, torch.float32, torch.int64])
def test_custom_mean_std_and_input_dtypes(dtype):
    pre = EpisodeDataPreProcessor(mean=(10, 20, 30), std=(2, 4, 5))
    out = pre(episodes(b=1, value=50, dtype=dtype))['inputs']['query_img']
    assert out.dtype == torch.float32
    assert out[0, :, 0, 0].tolist() == [20.0, 7.5, 4.0]


def test_masks_become_float_with_ignore_as_background():
    batch = episodes(b=2, k=2)
    batch['inputs']['support_masks'][1][1, 0, 0] = 255  # ignore pixel
    out = EpisodeDataPreProcessor()(batch)['inputs']['support_masks']
    assert out.shape == (2, 2, 6, 5) and out.dtype == torch.float32
    assert set(out.unique().tolist()) == {0.0, 1.0}
    assert out[1, 1, 0, 0] == 0 and out[1, 1, 0, 1] == 1
    assert out[1, 0, :2].eq(1).all() and out[1, 0, 2:].eq(0).all()


def test_training_flag_and_stacked_inputs_change_nothing():
    pre = EpisodeDataPreProcessor()
    batch = episodes(b=3, k=2, value=77)
    ref = pre(batch, False)
    stacked = dict(
        inputs={
            k: torch.stack(v)
            for k, v in episodes(b=3, k=2, value=77)['inputs'].items()
        })
    for out in (pre(batch, True), pre(stacked)):
        for key, value in ref['inputs'].items():
            assert torch.equal(out['inputs'][key], value)
    assert ref['data_samples'] == ['sample0', 'sample1', 'sample2']
    assert pre(stacked)['data_samples'] is None


def test_mean_and_std_are_not_saved_in_checkpoints():
    pre = EpisodeDataPreProcessor()
    assert dict(pre.named_buffers()).keys() == {'mean', 'std'}
    assert pre.state_dict() == {}


def test_built_from_the_registry():
    pre = MODELS.build(
        dict(type='EpisodeDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]))
    assert isinstance(pre, EpisodeDataPreProcessor)
    out = pre(episodes(b=1, value=9))['inputs']['query_img']
    assert out.eq(9).all()  # identity normalisation


@pytest.mark.parametrize('kwargs', [
    dict(mean=(1, 2)),
    dict(std=(1, 2, 3, 4)),
    dict(mean=(0, ), std=(1, )),
])
def test_mean_and_std_need_three_values(kwargs):
    with pytest.raises(ValueError, match='3 values'):
        EpisodeDataPreProcessor(**kwargs)


def test_bad_mask_values_are_refused():
    batch = episodes(b=2)
    batch['inputs']['support_masks'][0][0, 0, 0] = 7
    with pytest.raises(ValueError, match=r'0, 1 or 255.*7'):
        EpisodeDataPreProcessor()(batch)


def test_bad_batches_are_refused():
    pre = EpisodeDataPreProcessor()
    batch = episodes()
    del batch['inputs']['support_masks']
    with pytest.raises(KeyError, match='support_masks'):
        pre(batch)
    batch = episodes(b=2)
    batch['inputs']['query_img'][1] = torch.zeros(3, 7, 5, dtype=torch.uint8)
    with pytest.raises(ValueError, match='must share the shape'):
        pre(batch)
    batch = episodes(b=1, dtype=torch.float32)
    batch['inputs']['query_img'][0][0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='NaN or Inf'):
        pre(batch)
    batch = episodes(b=1)
    batch['inputs']['support_masks'][0] = torch.zeros(
        1, 6, 4, dtype=torch.uint8)
    with pytest.raises(ValueError, match='same spatial size'):
        pre(batch)


@pytest.mark.parametrize('channels', [1, 2, 4])
def test_images_that_are_not_rgb_are_refused(channels):
    """Checked before normalising, whose broadcast would turn a grey image
    into an RGB one."""
    batch = episodes(b=1)
    batch['inputs']['query_img'][0] = torch.zeros(
        channels, 6, 5, dtype=torch.uint8)
    with pytest.raises(ValueError, match='RGB'):
        EpisodeDataPreProcessor()(batch)
