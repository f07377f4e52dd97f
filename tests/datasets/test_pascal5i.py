# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pickle
import shutil

import numpy as np
import pytest
import torch

from hsnet_mm.datasets import PASCAL5iDataset
from hsnet_mm.structures import EPISODE_META_KEYS


@pytest.mark.parametrize('mode', ['train', 'val', 'test'])
@pytest.mark.parametrize('shot', [1, 5])
def test_modes_and_shots(pascal_root, test_pipeline, mode, shot):
    ds = PASCAL5iDataset(
        str(pascal_root), fold=1, shot=shot, mode=mode, pipeline=test_pipeline)
    test_classes = [5, 6, 7, 8, 9]
    expect = ([c for c in range(20)
               if c not in test_classes] if mode == 'train' else test_classes)
    assert list(ds.metainfo['fold_class_ids']) == expect
    assert len(ds.metainfo['classes']) == 20
    trn = [(pascal_root / f'splits/pascal/trn/fold{f}.txt').read_text()
           for f in (0, 2, 3)]
    assert len(ds) == (
        sum(t.count('\n') for t in trn) if mode == 'train' else 1000)
    for i in range(0, len(ds), 97):
        info = ds.get_data_info(i)
        assert info['class_id'] in expect
        assert info['query_name'].startswith('JPEGImages/')
        assert len(info['support_names']) == shot
        assert info['query_name'] not in info['support_names']
        assert len(set(info['support_names'])) == shot
        assert info['img_path'] == str(pascal_root / info['query_name'])
        assert info['mask_value'] == info['class_id'] + 1
    out = ds[3]
    assert out['inputs']['query_img'].shape == (3, 32, 32)
    assert out['inputs']['support_imgs'].shape == (shot, 3, 32, 32)
    assert out['inputs']['support_masks'].dtype == torch.uint8
    sample = out['data_samples']
    assert sample.gt_sem_seg.data.shape == (1, 32, 32)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert set(EPISODE_META_KEYS) <= set(sample.metainfo)
    assert sample.shot == shot and sample.episode_idx == 3


def test_query_is_split_line(pascal_root):
    ds = PASCAL5iDataset(str(pascal_root), fold=0, mode='test')
    lines = (pascal_root / 'splits/pascal/val/fold0.txt').read_text().split()
    for i in (0, 1, len(lines), len(lines) + 2):
        stem, cls = lines[i % len(lines)].split('__')
        info = ds.get_data_info(i)
        assert info['query_name'] == f'JPEGImages/{stem}.jpg'
        assert info['class_id'] == int(cls) - 1


def test_boundary_ignore(pascal_root):
    pipe = [dict(type='LoadEpisode')]
    test = PASCAL5iDataset(str(pascal_root), mode='test', pipeline=pipe)
    train = PASCAL5iDataset(str(pascal_root), mode='train', pipeline=pipe)
    keep = PASCAL5iDataset(
        str(pascal_root),
        mode='train',
        pipeline=pipe,
        train_ignore_boundary=True)
    q_test = test[0]['query_mask']
    assert set(np.unique(q_test)) == {0, 1, 255}
    assert set(np.unique(train[0]['query_mask'])) == {0, 1}
    assert 255 in keep[0]['query_mask']
    assert 255 in train[0]['support_masks'][0]


def test_train_epochs_differ_and_test_ignores_epoch(pascal_root, episode_of):
    train = PASCAL5iDataset(str(pascal_root), mode='train', shot=2)
    n = len(train)
    e0 = [episode_of(train, i) for i in range(n)]
    e1 = [episode_of(train, n + i) for i in range(n)]
    assert [e[:2] for e in e0] == [e[:2] for e in e1]  # same queries
    assert e0 != e1  # fresh supports
    assert e0 == [episode_of(train, i) for i in range(n)]
    test = PASCAL5iDataset(str(pascal_root), mode='test')
    assert episode_of(test, 5) == episode_of(test, 5 + len(test))
    assert episode_of(test, -1) == episode_of(test, len(test) - 1)


def test_seed_changes_episodes(pascal_root, episode_of):
    a = PASCAL5iDataset(str(pascal_root), num_episodes=50)
    b = PASCAL5iDataset(str(pascal_root), num_episodes=50, episode_seed=1)
    assert len(a) == 50
    assert ([episode_of(a, i) for i in range(50)]
            != [episode_of(b, i) for i in range(50)])


def _official_pascal(split_dir, fold, shot, num):
    """The official val episodes, re-derived with the global np.random."""
    with open(f'{split_dir}/val/fold{fold}.txt') as f:
        lines = f.read().split('\n')[:-1]
    meta = [(ln.split('__')[0], int(ln.split('__')[1]) - 1) for ln in lines]
    by_class = {c: [] for c in range(20)}
    for name, c in meta:
        by_class[c].append(name)
    state = np.random.get_state()
    np.random.seed(0)
    episodes = []
    try:
        for idx in range(num):
            query, c = meta[idx % len(meta)]
            supports = []
            while len(supports) < shot:
                pick = np.random.choice(by_class[c], 1, replace=False)[0]
                if pick != query:
                    supports.append(pick)
            episodes.append((c, query, supports))
    finally:
        np.random.set_state(state)
    return episodes


@pytest.mark.parametrize('fold,shot', [(0, 1), (1, 1), (2, 1), (3, 1), (0, 5),
                                       (3, 5)])
def test_official_replay(tmp_path, official_splits, fold, shot):
    split_dir = official_splits('pascal')
    (tmp_path / 'JPEGImages').mkdir()
    (tmp_path / 'SegmentationClassAug').mkdir()
    ds = PASCAL5iDataset(
        str(tmp_path),
        fold=fold,
        shot=shot,
        split_dir=str(split_dir),
        episode_sampling='official')
    assert len(ds) == 1000
    expect = _official_pascal(split_dir, fold, shot, 1000)
    for i, (c, query, supports) in enumerate(expect):
        info = ds.get_data_info(i)
        assert info['class_id'] == c
        assert info['query_name'] == f'JPEGImages/{query}.jpg'
        assert info['support_names'] == [
            f'JPEGImages/{s}.jpg' for s in supports
        ]


def test_official_needs_val_or_test(pascal_root):
    with pytest.raises(ValueError, match='official'):
        PASCAL5iDataset(
            str(pascal_root), mode='train', episode_sampling='official')


def test_bad_arguments(pascal_root, tmp_path):
    root = str(pascal_root)
    with pytest.raises(FileNotFoundError, match='data_root'):
        PASCAL5iDataset(str(tmp_path / 'nowhere'))
    with pytest.raises(ValueError, match='fold'):
        PASCAL5iDataset(root, fold=4)
    with pytest.raises(ValueError, match='fold'):
        PASCAL5iDataset(root, fold='0')
    with pytest.raises(ValueError, match='mode'):
        PASCAL5iDataset(root, mode='trn')
    with pytest.raises(ValueError, match='shot'):
        PASCAL5iDataset(root, shot=0)
    with pytest.raises(ValueError, match='num_episodes'):
        PASCAL5iDataset(root, num_episodes=0)
    with pytest.raises(ValueError, match='episode_sampling'):
        PASCAL5iDataset(root, episode_sampling='fast')
    with pytest.raises(FileNotFoundError, match='fold0.txt'):
        PASCAL5iDataset(root, split_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='SegmentationClassAug'):
        (tmp_path / 'JPEGImages').mkdir()
        PASCAL5iDataset(str(tmp_path))


def _copy_tree(pascal_root, tmp_path):
    root = tmp_path / 'VOC2012'
    shutil.copytree(pascal_root, root)
    return root


def test_too_few_images_and_bad_lines(pascal_root, tmp_path):
    root = _copy_tree(pascal_root, tmp_path)
    split = root / 'splits/pascal/val/fold0.txt'
    lines = split.read_text().split()
    kept = ([ln for ln in lines if not ln.endswith('__03')] +
            [ln for ln in lines if ln.endswith('__03')][:2])
    split.write_text('\n'.join(kept) + '\n')
    with pytest.raises(ValueError, match=r'class 2 \(bird\) has 2 image'):
        PASCAL5iDataset(str(root), shot=5)
    PASCAL5iDataset(str(root), shot=1)  # 2 images suffice for 1 shot
    split.write_text('2008_000000__07\n')
    with pytest.raises(ValueError, match='not classes of fold 0'):
        PASCAL5iDataset(str(root))
    split.write_text('2008_000000_07\n')
    with pytest.raises(ValueError, match='fold0.txt:1'):
        PASCAL5iDataset(str(root))


def test_missing_and_corrupt_files(pascal_root, tmp_path):
    root = _copy_tree(pascal_root, tmp_path)
    pipe = [dict(type='LoadEpisode')]
    ds = PASCAL5iDataset(str(root), pipeline=pipe, num_episodes=5)
    info = ds.get_data_info(0)
    (root / info['query_name']).unlink()
    with pytest.raises(FileNotFoundError, match=info['query_name']):
        ds[0]
    seg = ds.get_data_info(1)['support_seg_map_paths'][0]
    with open(seg, 'wb') as f:
        f.write(b'not a png')
    with pytest.raises(OSError, match=seg):
        ds[1]


def test_lazy_unserialized_and_pickled_datasets_agree(pascal_root, episode_of):
    ref = PASCAL5iDataset(str(pascal_root), mode='train', shot=3)
    lazy = PASCAL5iDataset(
        str(pascal_root),
        mode='train',
        shot=3,
        lazy_init=True,
        serialize_data=False)
    assert not lazy._fully_initialized
    copy = pickle.loads(pickle.dumps(ref))
    n = len(ref)
    for i in (0, 5, n + 5, 3 * n + 1):
        assert episode_of(lazy, i) == episode_of(ref, i)
        assert episode_of(copy, i) == episode_of(ref, i)
    with pytest.raises(NotImplementedError, match='subsets'):
        ref.get_subset(3)
