# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The web demo's episode logic (no Gradio needed)."""
import numpy as np
import pytest
import torch

from hsnet_mm.apis import inference_episode, init_model
from tests.apis.episode_helpers import box_mask, image, tiny_config
from tests.demo.demo_loader import load_demo


@pytest.fixture(scope='module')
def web():
    return load_demo('web_demo')


def editor(img, painted=None):
    layers = []
    if painted is not None:
        layer = np.zeros((*painted.shape, 4), np.uint8)
        layer[painted > 0] = (255, 0, 0, 255)
        layers.append(layer)
    return dict(background=img, layers=layers, composite=img)


def test_painted_or_uploaded_masks(web):
    img = image(30, 40, 0)
    mask = box_mask(30, 40)
    imgs, masks = web.collect_supports(
        [editor(img, mask), None,
         editor(img), None, None], [None, None, mask, None, None])
    assert len(imgs) == 2
    np.testing.assert_array_equal(masks[0], mask > 0)
    np.testing.assert_array_equal(masks[1], mask)
    # a canvas of another size is resized to the image
    small = box_mask(15, 20)
    _, masks = web.collect_supports([editor(img, small)], [None])
    assert masks[0].shape == (30, 40) and masks[0].sum() > 0
    with pytest.raises(ValueError, match='support 1: no mask'):
        web.collect_supports([editor(img)], [None])
    with pytest.raises(ValueError, match='support 2: a mask but no image'):
        web.collect_supports([editor(img, mask), None], [None, mask])
    with pytest.raises(ValueError, match='at least one support'):
        web.collect_supports([None, None], [None, None])


def test_segment_matches_the_api(web):
    torch.manual_seed(0)
    model = init_model(tiny_config())
    query = image(36, 52, 4)
    imgs = [image(30, 40, 1), image(40, 30, 2)]
    masks = [box_mask(30, 40), box_mask(40, 30)]
    overlay, votes, summary = web.segment(
        model, query,
        [editor(imgs[0], masks[0]), editor(imgs[1])], [None, masks[1]], 0.5)
    ref = inference_episode(model, query, imgs, masks)
    pred = ref.pred_sem_seg.data[0].numpy()
    assert overlay.shape == query.shape
    np.testing.assert_array_equal(overlay[pred == 0], query[pred == 0])
    assert len(votes) == 2 and votes[0][1].startswith('shot 1:')
    assert summary.startswith('2-shot')
    with pytest.raises(ValueError, match='upload a query'):
        web.segment(model, None, [editor(imgs[0], masks[0])], [None], 0.5)
