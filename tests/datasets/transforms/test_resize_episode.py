# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from hsnet_mm.datasets.transforms import ResizeEpisode
from hsnet_mm.datasets.transforms.resize_episode import (resize_image_pil,
                                                         resize_mask_nearest)


def _episode(rng, h=37, w=53, k=2):
    return dict(
        query_img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        query_mask=rng.integers(0, 2, (h, w), dtype=np.uint8),
        support_imgs=[
            rng.integers(0, 256, (h + i, w, 3), dtype=np.uint8)
            for i in range(k)
        ],
        support_masks=[
            rng.integers(0, 2, (h + i, w), dtype=np.uint8) for i in range(k)
        ])


def test_nearest_matches_torch_legacy_rule():
    rng = np.random.default_rng(0)
    sizes = [(375, 500, 400, 400), (333, 500, 400, 400), (7, 3, 400, 400),
             (400, 400, 400, 400), (20, 30, 40, 60), (500, 281, 13, 29)]
    sizes += [tuple(rng.integers(1, 300, 4)) for _ in range(100)]
    cv2_differs = 0
    for ih, iw, oh, ow in sizes:
        mask = rng.integers(0, 256, (ih, iw), dtype=np.uint8)
        ref = F.interpolate(
            torch.from_numpy(mask)[None, None].float(), (int(oh), int(ow)),
            mode='nearest')[0, 0].to(torch.uint8).numpy()
        assert np.array_equal(resize_mask_nearest(mask, (oh, ow)),
                              ref), (ih, iw, oh, ow)
        cv2_out = cv2.resize(
            mask, (int(ow), int(oh)), interpolation=cv2.INTER_NEAREST)
        cv2_differs += not np.array_equal(cv2_out, ref)
    assert cv2_differs > 0  # why the mask rule is not cv2's


def test_images_use_pillow_bilinear_not_cv2():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (375, 500, 3), dtype=np.uint8)
    out = resize_image_pil(img, (400, 400))
    ref = np.array(Image.fromarray(img).resize((400, 400), Image.BILINEAR))
    assert np.array_equal(out, ref)
    cv = cv2.resize(img, (400, 400), interpolation=cv2.INTER_LINEAR)
    assert not np.array_equal(out, cv)
    small = resize_image_pil(img, (100, 120))  # antialiased downscale
    cv_small = cv2.resize(img, (120, 100), interpolation=cv2.INTER_LINEAR)
    assert small.shape == (100, 120, 3)
    assert np.abs(small.astype(int) - cv_small).mean() > 5


@pytest.mark.parametrize('in_hw', [(333, 517), (2001, 97), (40, 1000)])
@pytest.mark.parametrize('out_hw', [(400, 400), (64, 48), (333, 400),
                                    (900, 1300), (1, 1)])
def test_banded_resize_is_pillows_bit_for_bit(monkeypatch, in_hw, out_hw):
    """Large images take the first pass in bands of rows (no Pillow copy of
    the whole image): the same pixels as one Pillow resize."""
    from hsnet_mm.datasets.transforms import resize_episode
    monkeypatch.setattr(resize_episode, 'BAND_PIXELS', 5000)  # many bands
    rng = np.random.default_rng(sum(in_hw + out_hw))
    noise = rng.integers(0, 256, in_hw + (3, ), dtype=np.uint8)
    ramp = np.add.outer(np.arange(in_hw[0]), 3 * np.arange(in_hw[1]))
    ramp = np.repeat((ramp % 256).astype(np.uint8)[..., None], 3, axis=2)
    for img in (noise, ramp):
        ref = Image.fromarray(img).resize(out_hw[::-1], Image.BILINEAR)
        assert np.array_equal(resize_image_pil(img, out_hw), np.array(ref))


def test_resize_episode():
    rng = np.random.default_rng(2)
    res = ResizeEpisode(scale=(48, 40))(_episode(rng))  # (w, h)
    assert res['query_img'].shape == (40, 48, 3)
    assert res['query_mask'].shape == (40, 48)
    assert all(s.shape == (40, 48, 3) for s in res['support_imgs'])
    assert all(m.shape == (40, 48) for m in res['support_masks'])
    assert res['img_shape'] == (40, 48) and res['ori_shape'] == (37, 53)


def test_keep_query_gt_original():
    rng = np.random.default_rng(3)
    ep = _episode(rng)
    gt = ep['query_mask'].copy()
    res = ResizeEpisode(scale=32, keep_query_gt_original=True)(ep)
    assert res['query_img'].shape == (32, 32, 3)
    assert np.array_equal(res['query_mask'], gt)
    assert res['support_masks'][1].shape == (32, 32)
    assert 'keep_query_gt_original=True' in repr(
        ResizeEpisode(keep_query_gt_original=True))


def test_bad_scale():
    with pytest.raises(ValueError, match='scale'):
        ResizeEpisode(scale=(0, 10))


def test_mask_values_nearest_with_ignore_kept():
    """Masks are resized by nearest neighbour: labels (and the ignore value
    255) are kept, never blended."""
    mask = np.array([[0, 255], [1, 0]], np.uint8)
    ep = dict(
        query_img=np.zeros((2, 2, 3), np.uint8),
        query_mask=mask,
        support_imgs=[np.zeros((2, 2, 3), np.uint8)],
        support_masks=[mask.copy()])
    res = ResizeEpisode(scale=4)(ep)
    up = np.kron(mask, np.ones((2, 2), np.uint8))  # each pixel -> 2 x 2
    assert np.array_equal(res['query_mask'], up)
    assert np.array_equal(res['support_masks'][0], up)
    big = np.arange(16, dtype=np.uint8).reshape(4, 4)
    big[0, 0] = 255
    ep = dict(
        query_img=np.zeros((4, 4, 3), np.uint8),
        query_mask=big,
        support_imgs=[np.zeros((4, 4, 3), np.uint8)],
        support_masks=[big.copy()])
    res = ResizeEpisode(scale=2)(ep)  # torch's nearest: rows/cols 0 and 2
    assert np.array_equal(res['query_mask'], [[255, 2], [8, 10]])
