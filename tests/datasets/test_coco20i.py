# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import json
import pickle
import shutil

import pytest

from hsnet_mm.datasets import COCO20iDataset
from tests.datasets.official_loops import official_coco


@pytest.mark.parametrize('mode', ['train', 'val', 'test'])
@pytest.mark.parametrize('shot', [1, 5])
def test_modes_and_shots(coco_root, test_pipeline, mode, shot):
    ds = COCO20iDataset(
        str(coco_root), fold=2, shot=shot, mode=mode, pipeline=test_pipeline)
    test = list(range(2, 80, 4))
    expect = [c for c in range(80) if c not in test] if mode == 'train' \
        else test
    assert list(ds.metainfo['fold_class_ids']) == expect
    assert len(ds.metainfo['classes']) == 80
    assert ds.metainfo['classes'][0] == 'person'
    sub = 'train2014' if mode == 'train' else 'val2014'
    # train: one episode per distinct image (official), else 1000
    assert len(ds) == (280 if mode == 'train' else 1000)
    classes = set()
    for i in range(0, len(ds), 7):
        info = ds.get_data_info(i)
        classes.add(info['class_id'])
        assert info['query_name'].startswith(sub)
        assert info['seg_map_path'] == str(
            coco_root / 'annotations' /
            info['query_name'].replace('.jpg', '.png'))
        assert info['query_name'] not in info['support_names']
        assert len(set(info['support_names'])) == shot
    assert classes <= set(expect) and len(classes) > len(expect) // 2
    out = ds[0]
    assert out['inputs']['support_imgs'].shape == (shot, 3, 32, 32)
    gt = out['data_samples'].gt_sem_seg.data
    assert set(gt.unique().tolist()) == {0, 1}  # no ignore label in COCO


def test_pkl_split_wins_and_is_read(coco_root, tmp_path, episode_of):
    root = tmp_path / 'COCO2014'
    shutil.copytree(coco_root, root)
    split = json.loads((root / 'splits/coco/val/fold1.json').read_text())
    with open(root / 'splits/coco/val/fold1.pkl', 'wb') as f:
        pickle.dump({int(k): v for k, v in split.items()}, f)
    a = COCO20iDataset(str(root), fold=1, num_episodes=20)
    assert a._split_file().endswith('.pkl')
    (root / 'splits/coco/val/fold1.pkl').unlink()
    b = COCO20iDataset(str(root), fold=1, num_episodes=20)
    assert [episode_of(a, i)
            for i in range(20)] == [episode_of(b, i) for i in range(20)]


def _official_coco(split_file, fold, shot, num):
    """The official val episodes, re-derived with the global np.random."""
    with open(split_file) as f:
        classwise = {int(k): v for k, v in json.load(f).items()}
    return official_coco(classwise, [fold + 4 * v for v in range(20)], num,
                         shot, 0)


@pytest.mark.parametrize('fold,shot', [(0, 1), (1, 1), (2, 1), (3, 1), (1, 5)])
def test_official_replay(tmp_path, official_splits, fold, shot):
    split_dir = official_splits('coco')
    ds = COCO20iDataset(
        str(tmp_path),
        fold=fold,
        shot=shot,
        split_dir=str(split_dir),
        episode_sampling='official')
    expect = _official_coco(split_dir / f'val/fold{fold}.json', fold, shot,
                            1000)
    got = [ds.episode(0, i) for i in range(len(ds))]
    assert got == [(c, q, list(s)) for c, q, s in expect]


def test_bad_inputs(coco_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='fold0.pkl'):
        COCO20iDataset(str(tmp_path))
    root = tmp_path / 'COCO2014'
    shutil.copytree(coco_root, root)
    path = root / 'splits/coco/val/fold0.json'
    split = json.loads(path.read_text())
    split['4'] = split['4'][:3]
    path.write_text(json.dumps(split))
    with pytest.raises(ValueError, match=r'class 4 \(airplane\) has 3'):
        COCO20iDataset(str(root), shot=5)
    split['1'] = split['4']
    path.write_text(json.dumps(split))
    with pytest.raises(ValueError, match=r'classes \[1\]'):
        COCO20iDataset(str(root))
    path.write_text(json.dumps({'x': []}))
    with pytest.raises(ValueError, match='not an int'):
        COCO20iDataset(str(root))
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match='expected a dict'):
        COCO20iDataset(str(root))
