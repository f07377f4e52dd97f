# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import glob
import os
import shutil

import numpy as np
import pytest

from hsnet_mm.datasets import FSS1000Dataset


@pytest.mark.parametrize('mode,offset,cats', [('train', 0, 3), ('val', 520, 2),
                                              ('test', 760, 2)])
@pytest.mark.parametrize('shot', [1, 5])
def test_modes_and_shots(fss_root, test_pipeline, mode, offset, cats, shot):
    ds = FSS1000Dataset(
        str(fss_root), shot=shot, mode=mode, pipeline=test_pipeline)
    assert list(ds.metainfo['fold_class_ids']) == list(
        range(offset, offset + cats))
    classes = ds.metainfo['classes']
    assert len(classes) == 1000
    assert classes[:3] == ('ant', 'bee', 'cat')  # sorted list, offset 0
    assert classes[520:522] == ('dog', 'eel') and classes[760] == 'fox'
    assert len(ds) == 10 * cats  # every image is a query once
    names = [ds.get_data_info(i)['query_name'] for i in range(len(ds))]
    first = classes[offset]
    assert names[:3] == [f'{first}/1.jpg', f'{first}/10.jpg', f'{first}/2.jpg']
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert classes[info['class_id']] == info['query_name'].split('/')[0]
        assert info['query_name'] not in info['support_names']
        assert len(set(info['support_names'])) == shot
        assert info['seg_map_path'].endswith('.png')
    out = ds[4]
    gt = out['data_samples'].gt_sem_seg.data
    assert set(gt.unique().tolist()) == {0, 1}
    assert out['inputs']['support_imgs'].shape == (shot, 3, 32, 32)


def test_threshold_mask(fss_root):
    ds = FSS1000Dataset(
        str(fss_root), mode='test', pipeline=[dict(type='LoadEpisode')])
    out = ds[0]
    assert out['query_mask'][0, 0] == 0  # 127 is background
    assert out['query_mask'].max() == 1


def _official_fss(base, split_file, shot):
    """The official test episodes, re-derived with the global np.random."""
    with open(split_file) as f:
        categories = sorted(f.read().split('\n')[:-1])
    queries = []
    for cat in categories:
        for path in sorted(glob.glob(f'{os.path.join(base, cat)}/*')):
            if os.path.basename(path).split('.')[1] == 'jpg':
                queries.append(path)
    state = np.random.get_state()
    np.random.seed(0)
    episodes = []
    try:
        for query in queries:
            c = categories.index(query.split('/')[-2]) + 760
            supports = []
            while True:
                n = np.random.choice(range(1, 11), 1, replace=False)[0]
                pick = os.path.join(os.path.dirname(query), str(n)) + '.jpg'
                if query != pick:
                    supports.append(pick)
                if len(supports) == shot:
                    break
            episodes.append((c, query, supports))
    finally:
        np.random.set_state(state)
    return episodes


@pytest.mark.parametrize('shot', [1, 5])
def test_official_replay(tmp_path, official_splits, shot):
    split_dir = official_splits('fss')
    for cat in (split_dir / 'test.txt').read_text().split():
        os.makedirs(tmp_path / cat)
        for n in range(1, 11):
            for ext in ('jpg', 'png'):
                (tmp_path / cat / f'{n}.{ext}').touch()
    ds = FSS1000Dataset(
        str(tmp_path),
        shot=shot,
        split_dir=str(split_dir),
        episode_sampling='official')
    assert len(ds) == 2400
    expect = _official_fss(str(tmp_path), split_dir / 'test.txt', shot)
    rel = len(str(tmp_path)) + 1
    got = [ds.episode(0, i) for i in range(len(ds))]
    assert got == [(c, q[rel:], [s[rel:] for s in sup])
                   for c, q, sup in expect]


def test_bad_inputs(fss_root, tmp_path):
    with pytest.raises(ValueError, match='fold'):
        FSS1000Dataset(str(fss_root), fold=1)
    with pytest.raises(FileNotFoundError, match='trn.txt'):
        FSS1000Dataset(str(fss_root), split_dir=str(tmp_path))
    root = tmp_path / 'FSS'
    shutil.copytree(fss_root, root)
    shutil.rmtree(root / 'gnu')
    with pytest.raises(FileNotFoundError, match='gnu'):
        FSS1000Dataset(str(root))
    shutil.copytree(fss_root / 'gnu', root / 'gnu')
    for n in range(3, 11):
        (root / 'fox' / f'{n}.jpg').unlink()
    with pytest.raises(ValueError, match=r'class 760 \(fox\) has 2'):
        FSS1000Dataset(str(root), mode='test', shot=2)


def test_original_size_protocol(fss_root):
    """Not in the official code (it always resizes the FSS query mask), but
    well defined here: the query mask stays at its original size."""
    from mmseg.registry import DATASETS
    pipeline = [
        dict(type='LoadEpisode'),
        dict(type='ResizeEpisode', scale=(32, 32), keep_query_gt_original=True),
        dict(type='PackEpisodeInputs')
    ]
    ds = DATASETS.build(
        dict(
            type='FSS1000Dataset',
            data_root=str(fss_root),
            mode='test',
            pipeline=pipeline))
    episode = ds[0]
    assert episode['inputs']['query_img'].shape == (3, 32, 32)
    assert episode['data_samples'].gt_sem_seg.shape == (12, 12)
