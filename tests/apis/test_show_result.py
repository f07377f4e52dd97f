# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""show_episode_result: the supports, the query and its prediction."""
import numpy as np
import pytest
import torch
from PIL import Image

import hsnet_mm  # noqa: F401
from hsnet_mm.apis import inference_episode, show_episode_result
from hsnet_mm.apis.show_result import encode_png
from tests.apis.episode_helpers import box_mask, image, support_set


def test_show_episode_result(model, tmp_path):
    imgs, masks = support_set(3)
    query = image(60, 90, 7)
    res = inference_episode(model, query, imgs, masks)
    out = tmp_path / 'vis' / 'episode.png'
    canvas = show_episode_result(
        query, imgs, masks, res, opacity=0.3, out_file=str(out))
    saved = np.asarray(Image.open(out))
    np.testing.assert_array_equal(saved, canvas)
    assert canvas.shape[0] > 60 and canvas.shape[1] > 90 + 105 + 45 + 86
    faint = show_episode_result(query, imgs, masks, res, opacity=0.0)
    assert not np.array_equal(faint, canvas)
    with pytest.raises(ValueError, match='pass the result of this query'):
        show_episode_result(image(10, 10, 0), imgs, masks, res)


def test_encode_png_round_trips_rgb_and_gray():
    import io
    for img in (image(7, 9, 3), box_mask(7, 9)):
        decoded = np.asarray(Image.open(io.BytesIO(encode_png(img))))
        np.testing.assert_array_equal(decoded, img)  # RGB stays RGB


def test_encode_mask_png_in_bands_equals_cv2(monkeypatch):
    import cv2

    from hsnet_mm.apis import show_result
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 2, (37, 23)).astype(np.int64)
    for band_bytes in (show_result.MASK_BAND_BYTES, 50):  # 2 rows a band
        monkeypatch.setattr(show_result, 'MASK_BAND_BYTES', band_bytes)
        for src in (mask, torch.from_numpy(mask)[None]):
            data = show_result.encode_mask_png(src)
            got = cv2.imdecode(
                np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
            assert got.dtype == np.uint8 and got.shape == (37, 23)
            np.testing.assert_array_equal(got, mask.astype(np.uint8) * 255)
    with pytest.raises(ValueError, match=r'must be \(H, W\)'):
        show_result.encode_mask_png(np.zeros((2, 3, 4)))
