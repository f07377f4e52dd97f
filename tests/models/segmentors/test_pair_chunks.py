# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Pairing queries with supports, and the neck + encoder in chunks."""
import torch

from hsnet_mm.models.segmentors.pair_chunks import (encode_pairs_in_chunks,
                                                    largest_level_bytes,
                                                    pair_features)
from hsnet_mm.structures import SupportFeatures


def levels(n, seed):
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(n, 3, 2, 2, generator=g)],
            [torch.randn(n, 2, 4, 4, generator=g)] * 2]


def test_pairs_are_shot_minor_and_one_support_set_serves_every_query():
    b, k = 3, 2
    query = levels(b, 0)
    shared = SupportFeatures(levels(k, 1), torch.rand(k, 8, 8), k, 1)
    q, s, m = pair_features(query, shared)
    assert q[1][0].shape == (b * k, 2, 4, 4) and m.shape == (b * k, 8, 8)
    for i in range(b):
        for j in range(k):
            n = i * k + j  # pair n is shot j of episode i
            assert torch.equal(q[0][0][n], query[0][0][i])
            assert torch.equal(s[1][1][n], shared.feats[1][1][j])
            assert torch.equal(m[n], shared.masks[j])
    # one support set per episode: the pairs are the support's own
    own = SupportFeatures(levels(b * k, 2), torch.rand(b * k, 8, 8), k, b)
    q, s, m = pair_features(query, own)
    assert s[0][0] is own.feats[0][0] and m is own.masks
    # K = 1: the query's features are used as they are
    one = SupportFeatures(levels(b, 3), torch.rand(b, 8, 8), 1, b)
    assert pair_features(query, one)[0][1][1] is query[1][1]


def test_chunks_give_the_same_result_and_checkpointing_the_same_grads():
    calls = []

    def neck(q, s, m):
        calls.append(m.shape[0])
        return [q[0][0] * s[0][0] * m.mean((1, 2)).view(-1, 1, 1, 1)]

    weight = torch.randn(3, requires_grad=True)

    def encoder(pyramid):
        return pyramid[0] * weight.view(1, 3, 1, 1)

    q, s = levels(5, 0), levels(5, 1)
    m = torch.rand(5, 8, 8)
    whole = encode_pairs_in_chunks(neck, encoder, q, s, m, chunk=5)
    assert calls == [5]
    calls.clear()
    chunked = encode_pairs_in_chunks(neck, encoder, q, s, m, chunk=2)
    assert calls == [2, 2, 1]
    torch.testing.assert_close(chunked, whole, rtol=0, atol=0)
    grads = []
    for checkpoint in (False, True):
        weight.grad = None
        encode_pairs_in_chunks(neck, encoder, q, s, m, 2,
                               checkpoint).square().sum().backward()
        grads.append(weight.grad.clone())
    torch.testing.assert_close(grads[1], grads[0])


def test_largest_level_bytes():
    feats = [[torch.zeros(1, 4, 2, 2)], [torch.zeros(1, 4, 8, 8)] * 3]
    assert largest_level_bytes(feats) == 3 * 64**2 * 4
