# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import numpy as np
import pytest

from hsnet_mm.datasets.transforms import EpisodeRandomFlip


def _episode(seed=None, k=3):
    img = np.arange(2 * 4 * 3, dtype=np.uint8).reshape(2, 4, 3)
    mask = np.array([[0, 0, 1, 1], [0, 1, 1, 255]], np.uint8)
    ep = dict(
        query_img=img.copy(),
        query_mask=mask.copy(),
        support_imgs=[img.copy() for _ in range(k)],
        support_masks=[mask.copy() for _ in range(k)])
    if seed is not None:
        ep['rng_seed'] = seed
    return ep, img, mask


def test_flip_pairs_images_and_masks():
    ep, img, mask = _episode()
    out = EpisodeRandomFlip(prob=1.0)(ep)
    assert out['flip'] == [True] * 4
    assert np.array_equal(out['query_img'], img[:, ::-1])
    assert np.array_equal(out['query_mask'], mask[:, ::-1])
    assert np.array_equal(out['support_masks'][2], mask[:, ::-1])
    out = EpisodeRandomFlip(prob=0.0)(_episode()[0])
    assert out['flip'] == [False] * 4
    assert np.array_equal(out['query_img'], img)


def test_seeded_draws_are_reproducible():
    flips = [
        EpisodeRandomFlip()(_episode((0, e, i), k=5)[0])['flip']
        for e in range(3) for i in range(4)
    ]
    again = [
        EpisodeRandomFlip()(_episode((0, e, i), k=5)[0])['flip']
        for e in range(3) for i in range(4)
    ]
    assert flips == again
    assert len({tuple(f) for f in flips}) > 3
    salted = EpisodeRandomFlip(salt=2)(_episode((0, 0, 0), k=5)[0])['flip']
    assert isinstance(salted, list) and len(salted) == 6


def test_bad_prob():
    with pytest.raises(ValueError, match='prob'):
        EpisodeRandomFlip(prob=1.5)
