# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The pixel limit: from the header, before decoding; its three sources;
Pillow's decompression-bomb check set aside consistently."""
import warnings

import numpy as np
import pytest
from PIL import Image

from hsnet_mm.apis import FewShotInferencer, inference_episode
from hsnet_mm.apis.episode_inputs import (check_image, load_support_set,
                                          to_mask, to_rgb)
from hsnet_mm.apis.pixel_limit import (MAX_PIXELS, MAX_PIXELS_ENV,
                                       check_pixels, max_pixels_in_effect)
from hsnet_mm.utils import UserError
from tests.apis.episode_helpers import box_mask, image, support_set


def header_only_png(path, h, w):
    """A PNG whose header says (h, w) and whose pixels are cut off: only a
    check that reads the header can size it without failing to decode."""
    Image.fromarray(image(h, w, 0)).save(path)
    path.write_bytes(path.read_bytes()[:100])
    return str(path)


def test_limit_sources(monkeypatch):
    monkeypatch.delenv(MAX_PIXELS_ENV, raising=False)
    assert max_pixels_in_effect() == MAX_PIXELS == 150_000_000
    monkeypatch.setenv(MAX_PIXELS_ENV, '1000')
    assert max_pixels_in_effect() == 1000
    assert max_pixels_in_effect(5) == 5  # the argument first
    assert max_pixels_in_effect(0) == 0
    check_pixels(10**6, 10**6, 'q', 0)  # 0: no limit
    monkeypatch.setenv(MAX_PIXELS_ENV, 'lots')
    with pytest.raises(UserError, match=f'{MAX_PIXELS_ENV} must be a pixel'):
        max_pixels_in_effect()
    with pytest.raises(UserError, match='max_pixels must be'):
        max_pixels_in_effect(-1)


def test_refused_from_the_header_before_decoding(tmp_path, monkeypatch):
    path = header_only_png(tmp_path / 'wide.png', 20, 30)
    with pytest.raises(OSError, match='cannot read'):
        to_rgb(path, 'query', max_pixels=600)  # within: decoded, and fails
    with pytest.raises(UserError) as err:
        to_rgb(path, 'query', max_pixels=599)
    msg = str(err.value)
    assert 'wide.png' in msg and '30x20 (WxH)' in msg and '599 pixels' in msg
    assert 'max_pixels=' in msg and '--max-pixels' in msg
    assert MAX_PIXELS_ENV in msg and '\n' not in msg
    with pytest.raises(UserError, match='wide.png'):
        check_image(path, 'queries[1]', 599)
    check_image(path, 'queries[1]', 600)  # the header is fine
    monkeypatch.setenv(MAX_PIXELS_ENV, '599')
    with pytest.raises(UserError, match=r'support_masks\[0\] \(.*wide.png'):
        to_mask(path, 'support_masks[0]')


def test_arrays_and_pil_images_are_limited_too():
    arr = image(20, 30, 1)
    with pytest.raises(UserError, match='query is 30x20'):
        to_rgb(arr, 'query', 100)
    with pytest.raises(UserError, match='query is 30x20'):
        to_rgb(Image.fromarray(arr), 'query', 100)
    with pytest.raises(UserError, match=r'support_masks\[0\] is 30x20'):
        load_support_set([image(10, 10, 0)], [box_mask(20, 30)], 200)
    np.testing.assert_array_equal(to_rgb(arr, 'query', 600), arr)


def test_pil_bomb_check_follows_the_limit(tmp_path, monkeypatch):
    path = tmp_path / 'a.png'
    arr = image(20, 30, 2)
    Image.fromarray(arr).save(path)
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 100)  # 2x: an error
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # not even Pillow's warning
        np.testing.assert_array_equal(to_rgb(str(path), 'q', 0), arr)
    assert Image.MAX_IMAGE_PIXELS == 100  # restored
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)  # Pillow's check is left on elsewhere


def test_api_and_inferencer_take_max_pixels(model, tmp_path):
    imgs, masks = support_set(1)
    with pytest.raises(UserError, match=r'query\[1\] is 60x50'):
        inference_episode(
            model, [image(9, 9, 0), image(50, 60, 1)],
            imgs,
            masks,
            max_pixels=2999)
    res = inference_episode(model, image(50, 60, 1), imgs, masks, 3000)
    assert res.pred_sem_seg.data.shape == (1, 50, 60)
    out_dir = tmp_path / 'out'
    big = header_only_png(tmp_path / 'big.png', 50, 60)
    inferencer = FewShotInferencer(model, max_pixels=2999)
    with pytest.raises(UserError, match='big.png'):
        inferencer([image(9, 9, 0), big], imgs, masks, out_dir=str(out_dir))
    assert not out_dir.exists()  # refused before anything is written
    out = inferencer(image(50, 60, 1), imgs, masks, max_pixels=0)
    assert out['predictions']['sem_seg'].shape == (50, 60)
