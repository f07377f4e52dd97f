# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""SyntheticRenderer and the class table of the synthetic benchmark (the
dataset built on them: tests/datasets/test_synthetic.py)."""
import time

import numpy as np
import pytest

from hsnet_mm.datasets import SyntheticFewShotDataset
from hsnet_mm.datasets.synthetic_renderer import (COLOUR_FAMILIES, MAX_CLASSES,
                                                  SHAPES, TEXTURES,
                                                  SyntheticRenderer,
                                                  class_fold, class_name,
                                                  class_specs)


def renderer(seed=0,
             size=(48, 64),
             num_classes=48,
             distractors=(1, 3),
             distinct_colours=True):
    return SyntheticRenderer(seed, size, class_specs(num_classes),
                             range(num_classes), distractors, distinct_colours)


def test_class_specs_are_distinct_and_in_range():
    specs = class_specs(MAX_CLASSES)
    assert MAX_CLASSES == 8 * 6 * 4 == len(set(specs))
    for colour, shape, texture in specs:
        assert 0 <= colour < len(COLOUR_FAMILIES)
        assert 0 <= shape < len(SHAPES)
        assert 0 <= texture < len(TEXTURES)
    assert class_specs(10) == specs[:10]  # a prefix: stable ids


@pytest.mark.parametrize('num', [0, 1, MAX_CLASSES + 1])
def test_class_specs_refuse_a_bad_class_count(num):
    with pytest.raises(ValueError, match='num_classes'):
        class_specs(num)


def test_class_fold_and_name():
    assert class_fold((3, 2, 0), 4) == 1
    assert class_fold((3, 2, 0), 5) == 0
    assert class_name((0, 0, 1)) == 'red-stripes-circle'
    assert class_name((7, 5, 3)) == 'magenta-dots-cross'
    names = [class_name(s) for s in class_specs(MAX_CLASSES)]
    assert len(set(names)) == MAX_CLASSES


def test_image_names_round_trip():
    render = renderer()
    name = SyntheticRenderer.image_name(7, 42)
    assert name == 'c007/00042'
    img, label = render('any/prefix/' + name)
    ref_img, ref_label = render.render(7, 42)
    assert np.array_equal(img, ref_img) and np.array_equal(label, ref_label)
    img, _ = render('c007\\00042')  # Windows separators
    assert np.array_equal(img, ref_img)


def test_images_are_a_function_of_seed_class_and_index():
    a, b = renderer(seed=0), renderer(seed=0)
    img, label = a.render(3, 1)
    assert img.shape == (48, 64, 3) and img.dtype == np.uint8
    assert label.shape == (48, 64) and label.dtype == np.uint8
    assert np.array_equal(img, b.render(3, 1)[0])
    others = [renderer(seed=1).render(3, 1), a.render(3, 2), a.render(4, 1)]
    assert all(not np.array_equal(img, o[0]) for o in others)


def test_labels_hold_the_target_and_distractors_of_other_colours():
    render = renderer(distractors=(2, 2))
    specs = class_specs(48)
    for index in range(10):
        img, label = render.render(5, index)
        values = set(np.unique(label).tolist())
        assert {0, 6} <= values  # background and the target (class + 1)
        assert (label == 6).sum() > 30
        distractors = values - {0, 6}
        assert distractors  # placed when there is room
        assert all(specs[v - 1][0] != specs[5][0] for v in distractors)


def test_distractors_can_share_the_colour_or_be_absent():
    specs = class_specs(48)
    same = 0
    render = renderer(distractors=(3, 3), distinct_colours=False)
    for index in range(20):
        _, label = render.render(0, index)
        same += any(specs[v - 1][0] == specs[0][0]
                    for v in set(np.unique(label).tolist()) - {0, 1})
    assert same > 0
    _, label = renderer(distractors=(0, 0)).render(0, 0)
    assert set(np.unique(label).tolist()) == {0, 1}


def test_bad_names_and_classes_are_refused():
    render = renderer(num_classes=4)
    for name in ('x.jpg', 'c1/abc', 'cx/00001', ''):
        with pytest.raises(ValueError, match='synthetic image name'):
            render(name)
    with pytest.raises(ValueError, match='class 4 does not exist'):
        render.render(4, 0)
    with pytest.raises(ValueError, match='class -1 does not exist'):
        render('c-01/00000')


def test_render_speed():
    ds = SyntheticFewShotDataset(mode='train', img_size=160)
    render = ds._image_source()
    render(ds.get_data_info(0)['img_path'])
    start = time.perf_counter()
    for i in range(40):
        img, label = render(ds.get_data_info(i)['img_path'])
    per_image = (time.perf_counter() - start) / 40
    assert img.shape == (160, 160, 3) and label.shape == (160, 160)
    assert per_image < 0.02, f'{per_image * 1e3:.1f} ms per image'
