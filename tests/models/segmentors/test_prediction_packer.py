# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The one packer: the vote at the output size, bounded memory on huge
outputs."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.structures import SegDataSample

from hsnet_mm.models.segmentors import prediction_packer as packer
from hsnet_mm.models.segmentors import vote_kshot


def samples(b, ori, img=(40, 56)):
    return [
        SegDataSample(metainfo=dict(ori_shape=ori, img_shape=img))
        for _ in range(b)
    ]


@pytest.mark.parametrize('align_corners', [True, False])
@pytest.mark.parametrize('k', [1, 3])
def test_small_outputs_are_the_vote_of_the_resized_logits(align_corners, k):
    torch.manual_seed(0)
    logits = torch.randn(2, k, 2, 10, 14)
    out = packer.pack_episode_predictions(logits, samples(2, (37, 53)),
                                          align_corners)
    resized = F.interpolate(
        logits.flatten(0, 1), (37, 53),
        mode='bilinear',
        align_corners=align_corners).view(2, k, 2, 37, 53)
    for i, s in enumerate(out):
        assert s.pred_sem_seg.data.dtype == torch.int64
        assert torch.equal(s.pred_sem_seg.data, vote_kshot(resized[i:i + 1]))
        assert torch.equal(s.seg_logits.data, resized[i].mean(0))
        assert torch.equal(s.shot_pred_sem_seg.data, resized[i].argmax(1))


@pytest.mark.parametrize('align_corners', [True, False])
@pytest.mark.parametrize('k', [1, 5])
def test_banded_vote_equals_the_full_vote_off_ties(monkeypatch, align_corners,
                                                   k):
    monkeypatch.setattr(packer, 'BAND_BYTES', 4096)  # many bands
    torch.manual_seed(1)
    logits = torch.randn(k, 2, 13, 17)
    size = (211, 307)
    full = F.interpolate(
        logits, size, mode='bilinear', align_corners=align_corners)
    ref = vote_kshot(full[None])[0]
    got = packer.vote_at_size(logits, size, align_corners)
    assert got.dtype == torch.int64 and got.shape == size
    assert got.device == logits.device
    margin = (full[:, 1] - full[:, 0]).abs().min(0)[0]
    decided = margin > 1e-4  # every shot's argmax is clear there
    assert decided.float().mean() > 0.99
    assert torch.equal(got[decided], ref[decided])
    # the bands' bilinear resize is PyTorch's, up to float rounding
    rows = packer.resize_rows(
        logits.flatten(0, 1), size, align_corners, slice(50, 90))
    torch.testing.assert_close(
        rows, full.flatten(0, 1)[:, 50:90], rtol=0, atol=1e-4)


def test_huge_outputs_keep_logits_at_the_input_size():
    torch.manual_seed(2)
    logits = torch.randn(1, 3, 2, 10, 14)
    out = packer.pack_episode_predictions(
        logits, samples(1, (90, 120)), False, full_size_max_pixels=100)[0]
    assert out.pred_sem_seg.data.shape == (1, 90, 120)
    assert out.seg_logits.data.shape == (2, 40, 56)  # img_shape
    assert out.shot_pred_sem_seg.data.shape == (3, 40, 56)
    small = packer.pack_episode_predictions(logits, samples(1, (90, 120)),
                                            False)[0]
    assert small.seg_logits.data.shape == (2, 90, 120)
    agree = (out.pred_sem_seg.data == small.pred_sem_seg.data).float()
    assert agree.mean() > 0.999


def test_ground_truth_sets_the_output_size_and_counts_must_match():
    from mmengine.structures import PixelData
    s = samples(1, (90, 120))
    s[0].gt_sem_seg = PixelData(data=torch.zeros(1, 30, 20).long())
    out = packer.pack_episode_predictions(torch.randn(1, 1, 2, 5, 5), s,
                                          True)[0]
    assert out.pred_sem_seg.data.shape == (1, 30, 20)
    with pytest.raises(ValueError, match='2 episodes of logits but 1'):
        packer.pack_episode_predictions(
            torch.randn(2, 1, 2, 5, 5), samples(1, (9, 9)), True)


def test_half_precision_logits_vote_in_float32():
    torch.manual_seed(3)
    logits = torch.randn(3, 2, 10, 14)
    full = packer.vote_at_size(logits, (97, 131), False)
    half = packer.vote_at_size(logits.bfloat16().float().bfloat16(), (97, 131),
                               False)
    ref = packer.vote_at_size(logits.bfloat16().float(), (97, 131), False)
    assert torch.equal(half, ref)  # the same as its float32 copy
    assert full.shape == half.shape
