# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""draw_episode / save_episode_png / denormalize on toy images."""
import cv2
import numpy as np
import pytest
import torch

from hsnet_mm.visualization import (denormalize, draw_episode, overlay_mask,
                                    save_episode_png)
from hsnet_mm.visualization.episode_drawer import (ALPHA, GAP, GT_COLOR,
                                                   IGNORE_COLOR, LABEL_HEIGHT,
                                                   PRED_COLOR, SUPPORT_COLOR)

H, W = 40, 60


def blended(color, base=0):
    """The pixel an overlay of ``color`` gives on a ``base`` grey pixel."""
    return np.round((1 - ALPHA) * base + ALPHA * np.array(color)).astype(
        np.uint8)


def episode(shot=2):
    """Black images; masks with foreground top-left, ignore bottom-right."""
    img = np.zeros((H, W, 3), np.uint8)
    mask = np.zeros((H, W), np.uint8)
    mask[:10, :10] = 1
    mask[-5:, -5:] = 255
    return dict(
        query_img=img,
        support_imgs=[img.copy() for _ in range(shot)],
        support_masks=[mask.copy() for _ in range(shot)])


def test_overlay_colours_and_resize():
    img = np.full((4, 4, 3), 100, np.uint8)
    mask = np.array([[1, 0], [0, 255]], np.uint8)  # resized nearest to 4x4
    out = overlay_mask(img, mask, (200, 0, 0))
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, 0], blended((200, 0, 0), 100))
    np.testing.assert_array_equal(out[1, 1], blended((200, 0, 0), 100))
    np.testing.assert_array_equal(out[0, 3], [100, 100, 100])
    np.testing.assert_array_equal(out[3, 3], blended(IGNORE_COLOR, 100))


def test_draw_episode_layout_and_colours():
    kwargs = episode(shot=2)
    gt = np.zeros((H // 2, W // 2), np.uint8)  # another size than the image
    gt[:5, :5] = 1
    pred = np.zeros((H, W), np.uint8)
    pred[:, -1] = 1
    canvas = draw_episode(**kwargs, gt_mask=gt, pred_mask=pred)
    # supports 1, 2, prediction, ground truth: 4 panels, 3 gaps.
    assert canvas.dtype == np.uint8
    assert canvas.shape == (H + LABEL_HEIGHT, 4 * W + 3 * GAP, 3)
    top = LABEL_HEIGHT
    for k in range(2):
        x0 = k * (W + GAP)
        np.testing.assert_array_equal(canvas[top + 2, x0 + 2],
                                      blended(SUPPORT_COLOR))
        np.testing.assert_array_equal(canvas[top + H - 1, x0 + W - 1],
                                      blended(IGNORE_COLOR))
        np.testing.assert_array_equal(canvas[top + 20, x0 + 20], [0, 0, 0])
    x_pred = 2 * (W + GAP)
    np.testing.assert_array_equal(canvas[top + 5, x_pred + W - 1],
                                  blended(PRED_COLOR))
    np.testing.assert_array_equal(canvas[top + 5, x_pred], [0, 0, 0])
    x_gt = 3 * (W + GAP)
    # gt[:5, :5] at half size covers [:10, :10] of the image.
    np.testing.assert_array_equal(canvas[top + 9, x_gt + 9], blended(GT_COLOR))
    np.testing.assert_array_equal(canvas[top + 10, x_gt + 10], [0, 0, 0])
    # Labels: some dark text pixels on the white strip of each panel.
    for x0 in range(0, 4 * (W + GAP), W + GAP):
        assert (canvas[:LABEL_HEIGHT, x0:x0 + W] < 128).any()


def test_draw_episode_optional_panels_and_title():
    kwargs = episode(shot=1)
    plain = draw_episode(**kwargs)
    assert plain.shape == (H + LABEL_HEIGHT, 2 * W + GAP, 3)
    titled = draw_episode(**kwargs, pred_mask=np.zeros((H, W)), title='ep 3')
    assert titled.shape == (H + 2 * LABEL_HEIGHT, 2 * W + GAP, 3)


def test_draw_episode_support_of_another_size():
    kwargs = episode(shot=1)
    kwargs['support_imgs'] = [np.zeros((H // 2, W, 3), np.uint8)]
    kwargs['support_masks'] = [np.ones((H // 2, W), np.uint8)]
    canvas = draw_episode(**kwargs)
    # The support is scaled to the query height: width doubles.
    assert canvas.shape == (H + LABEL_HEIGHT, 2 * W + GAP + W, 3)


@pytest.mark.parametrize('change,match', [
    (dict(query_img=np.zeros((H, W), np.uint8)), 'query_img'),
    (dict(query_img=np.zeros((H, W, 3), np.float32)), 'uint8'),
    (dict(support_masks=[]), 'as many support masks'),
    (dict(pred_mask=np.full((H, W), 2, np.uint8)), 'pred_mask.*0, 1'),
    (dict(gt_mask=np.zeros((2, H, W), np.uint8)), 'gt_mask'),
])
def test_draw_episode_bad_inputs(change, match):
    kwargs = episode(shot=1)
    kwargs.update(change)
    with pytest.raises(ValueError, match=match):
        draw_episode(**kwargs)


def test_save_episode_png(tmp_path):
    path = tmp_path / 'a' / 'b' / 'episode.png'
    kwargs = episode(shot=1)
    out = save_episode_png(str(path), **kwargs, pred_mask=np.ones((H, W)))
    assert out == str(path) and path.is_file()
    assert not list(path.parent.glob('*.tmp'))
    read = cv2.imread(str(path))[..., ::-1]  # back to RGB
    np.testing.assert_array_equal(
        read, draw_episode(**kwargs, pred_mask=np.ones((H, W))))


def test_denormalize():
    mean, std = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]
    img = np.random.RandomState(0).randint(0, 256, (5, 6, 3)).astype(np.uint8)
    t = torch.from_numpy(img).permute(2, 0, 1).float()
    norm = (t - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(
        3, 1, 1)
    out = denormalize(norm, mean, std)
    assert out.shape == (5, 6, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, img)
    np.testing.assert_array_equal(denormalize(norm[None], mean, std), img)
    with pytest.raises(ValueError, match=r'\(3, H, W\)'):
        denormalize(torch.zeros(4, 5, 6), mean, std)


def test_large_panels_are_shrunk_and_masks_sampled():
    from hsnet_mm.visualization import episode_drawer
    query = np.full((300, 400, 3), 100, np.uint8)
    pred = torch.zeros((1, 300, 400), dtype=torch.int64)
    pred[0, :, 200:] = 1  # right half
    support = np.full((90, 120, 3), 50, np.uint8)
    smask = np.zeros((90, 120), np.uint8)
    smask[:, :60] = 1  # left half
    canvas = draw_episode(
        query, [support], [smask], pred_mask=pred, max_panel_pixels=1200)
    assert episode_drawer.panel_size(300, 400, 1200) == (30, 40)
    assert canvas.shape == (LABEL_HEIGHT + 30, 40 + GAP + 40, 3)
    prediction = canvas[LABEL_HEIGHT:, 40 + GAP:]
    np.testing.assert_array_equal(prediction[:, 19], 100)  # left: query
    assert (prediction[:, 21] == blended(PRED_COLOR, 100)).all()
    sup = canvas[LABEL_HEIGHT:, :40]
    assert (sup[:, 19] == blended(SUPPORT_COLOR, 50)).all()
    np.testing.assert_array_equal(sup[:, 21], 50)
    # under the limit nothing changes
    small = draw_episode(query, [support], [smask], pred_mask=pred)
    np.testing.assert_array_equal(
        small,
        draw_episode(query, [support], [smask], pred_mask=pred.numpy()[0]))
    assert small.shape[0] == LABEL_HEIGHT + 300
    # masks are sampled at pixel centres: row/col i of an (n*k) mask -> k
    np.testing.assert_array_equal(
        episode_drawer.sample_mask(np.arange(12).reshape(3, 4), (3, 2)),
        [[1, 3], [5, 7], [9, 11]])
