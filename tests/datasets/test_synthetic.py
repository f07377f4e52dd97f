# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import numpy as np
import pytest

from hsnet_mm.datasets import SyntheticFewShotDataset
from hsnet_mm.datasets.synthetic_renderer import (COLOUR_FAMILIES, SHAPES,
                                                  TEXTURES, class_specs)


@pytest.mark.parametrize('mode', ['train', 'val', 'test'])
@pytest.mark.parametrize('shot', [1, 5])
def test_modes_and_shots(test_pipeline, mode, shot):
    ds = SyntheticFewShotDataset(
        None,
        fold=1,
        shot=shot,
        mode=mode,
        images_per_class=8,
        pipeline=test_pipeline)
    ids = list(ds.metainfo['fold_class_ids'])
    assert len(ids) == (36 if mode == 'train' else 12)
    assert len(ds) == (36 * 8 if mode == 'train' else 500)
    assert len(ds.metainfo['classes']) == 48
    out = ds[7]
    assert out['inputs']['query_img'].shape == (3, 32, 32)
    assert out['inputs']['support_imgs'].shape == (shot, 3, 32, 32)
    sample = out['data_samples']
    assert sample.class_id in ids
    assert sample.gt_sem_seg.data.max() == 1
    assert sample.query_name not in sample.support_names
    assert len(set(sample.support_names)) == shot


@pytest.mark.parametrize('fold', range(4))
def test_folds_split_classes_and_cover_attributes(fold):
    train = SyntheticFewShotDataset(fold=fold, mode='train', lazy_init=True)
    test = SyntheticFewShotDataset(fold=fold, mode='test', lazy_init=True)
    tr, te = (set(d.metainfo['fold_class_ids']) for d in (train, test))
    assert not tr & te and tr | te == set(range(48))
    specs = class_specs(48)
    for i, names in enumerate((COLOUR_FAMILIES, SHAPES, TEXTURES)):
        assert {specs[c][(0, 1, 2)[i]] for c in te} == set(range(len(names)))


def test_episodes_deterministic_and_seeded():
    pipe = [dict(type='LoadEpisode')]
    a = SyntheticFewShotDataset(mode='test', pipeline=pipe)
    b = SyntheticFewShotDataset(mode='test', pipeline=pipe)
    c = SyntheticFewShotDataset(mode='test', pipeline=pipe, seed=1)
    for i in (0, 33):
        ea, eb, ec = a[i], b[i], c[i]
        assert np.array_equal(ea['query_img'], eb['query_img'])
        assert np.array_equal(ea['support_masks'][0], eb['support_masks'][0])
        assert ea['query_name'] == ec['query_name']  # same episode...
        assert not np.array_equal(ea['query_img'], ec['query_img'])  # image
    # the first episodes cover many classes (class-interleaved pool)
    assert len({a.get_data_info(i)['class_id'] for i in range(12)}) == 12


def test_distractors_make_segment_everything_wrong():
    ds = SyntheticFewShotDataset(mode='test', fold=0)
    render = ds._image_source()
    ious, others = [], 0
    for i in range(60):
        info = ds.get_data_info(i)
        img, label = render(info['img_path'])
        target = label == info['class_id'] + 1
        objects = label > 0
        assert target.sum() > 50
        ious.append(target.sum() / objects.sum())
        present = set(np.unique(label).tolist()) - {0, info['class_id'] + 1}
        others += bool(present)
        colour = ds.specs[info['class_id']][0]
        assert all(ds.specs[v - 1][0] != colour for v in present)
        assert all(v - 1 in ds.split_class_ids for v in present)
    assert others >= 55
    assert np.mean(ious) < 0.55


def _hue_saturation(img):
    rgb = img.astype(np.float64) / 255
    top, low = rgb.max(-1), rgb.min(-1)
    span = top - low + 1e-9
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    hue = np.where(top == r, (g - b) / span % 6,
                   np.where(top == g, (b - r) / span + 2,
                            (r - g) / span + 4)) / 6
    return hue, (top - low) / (top + 1e-9)


def test_support_tells_the_target():
    """A hand-made support-reading rule beats segment-everything."""
    ds = SyntheticFewShotDataset(
        mode='test', fold=2, pipeline=[dict(type='LoadEpisode')])
    matched, everything = [], []
    for i in range(40):
        ep = ds[i]
        gt = ep['query_mask'] == 1
        s_hue, _ = _hue_saturation(ep['support_imgs'][0])
        fg = s_hue[ep['support_masks'][0] == 1]
        ref = np.angle(np.exp(2j * np.pi * fg).mean()) / (2 * np.pi)
        q_hue, q_sat = _hue_saturation(ep['query_img'])
        pred = (np.abs((q_hue - ref + 0.5) % 1 - 0.5) < 0.05) & (q_sat > 0.45)
        matched.append((pred & gt).sum() / (pred | gt).sum())
        _, label = ds._image_source()(ep['img_path'])
        everything.append(gt.sum() / (label > 0).sum())
    assert np.mean(matched) > 0.85
    assert np.mean(everything) < 0.5


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_folds'):
        SyntheticFewShotDataset(num_folds=1)
    with pytest.raises(ValueError, match='fold'):
        SyntheticFewShotDataset(num_folds=3, fold=3)
    with pytest.raises(ValueError, match='num_classes'):
        SyntheticFewShotDataset(num_classes=500)
    with pytest.raises(ValueError, match='img_size'):
        SyntheticFewShotDataset(img_size=8)
    with pytest.raises(ValueError, match='num_distractors'):
        SyntheticFewShotDataset(num_distractors=(3, 1))
    with pytest.raises(ValueError, match=r'has 3 image'):
        SyntheticFewShotDataset(images_per_class=3, shot=5)
    with pytest.raises(ValueError, match='synthetic image name'):
        SyntheticFewShotDataset(lazy_init=True)._image_source()('x.jpg')
