# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch

from hsnet_mm.models.segmentors import vote_kshot


def logits_from_votes(fg):
    """(B, K, H, W) 0/1 foreground decisions -> (B, K, 2, H, W) logits."""
    fg = torch.as_tensor(fg, dtype=torch.float32)
    return torch.stack([1 - fg, fg], dim=2)


def test_one_shot_is_argmax():
    logits = torch.randn(2, 1, 2, 4, 5)
    out = vote_kshot(logits)
    assert out.dtype == torch.int64
    assert torch.equal(out, logits[:, 0].argmax(1))


def test_vote_normalised_by_max_vote_not_k():
    # 5 shots; pixel votes 0..5 in a row -> max 5 -> need >= 2.5 -> 3 votes
    fg = torch.zeros(1, 5, 1, 6)
    for col in range(6):
        fg[0, :col, 0, col] = 1
    out = vote_kshot(logits_from_votes(fg))
    assert out.tolist() == [[[0, 0, 0, 1, 1, 1]]]
    # max vote 2 -> a single vote is enough (1 / 2 >= 0.5)
    fg2 = torch.zeros(1, 5, 1, 3)
    fg2[0, 0, 0, 1] = 1
    fg2[0, :2, 0, 2] = 1
    assert vote_kshot(logits_from_votes(fg2)).tolist() == [[[0, 1, 1]]]


def test_no_vote_is_background_and_per_image_max():
    fg = torch.zeros(2, 3, 2, 2)
    fg[1, 0, 0, 0] = 1
    out = vote_kshot(logits_from_votes(fg))
    assert out[0].sum() == 0
    assert out[1].tolist() == [[1, 0], [0, 0]]


def test_bad_shape():
    with pytest.raises(ValueError, match='B, K, 2, H, W'):
        vote_kshot(torch.randn(1, 2, 4, 4))


def test_foreground_argmax_is_argmax(device):
    """Two comparisons with argmax's semantics: ties to class 0, a NaN
    wins (the first NaN if both are); on every device."""
    from hsnet_mm.models.segmentors import foreground_argmax
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 2, 5, 6)
    logits[0, 0, :, 0, 0] = 1.5  # a tie
    logits[0, 0, 1, 0, 1] = float('nan')
    logits[0, 0, 0, 0, 2] = float('nan')
    logits[0, 0, :, 0, 3] = float('nan')
    logits[0, 0, 1, 0, 4] = float('inf')
    logits = logits.to(device)
    got = foreground_argmax(logits, dim=2)
    assert got.dtype == torch.int64
    assert torch.equal(got, logits.argmax(dim=2))
    assert got[0, 0, 0, :5].tolist() == [0, 1, 0, 0, 1]
    with pytest.raises(ValueError, match='2 classes'):
        foreground_argmax(torch.randn(1, 3, 4), dim=1)


def test_vote_on_every_device(device):
    torch.manual_seed(1)
    logits = torch.randn(3, 5, 2, 7, 9)
    assert torch.equal(vote_kshot(logits.to(device)).cpu(), vote_kshot(logits))
