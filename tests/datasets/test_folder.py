# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import shutil

import numpy as np
import pytest
from PIL import Image

from hsnet_mm.datasets import FolderFewShotDataset

INDEX_CLASSES = {'a': 10, 'b': 20, 'c': 30}


@pytest.mark.parametrize('mode', ['train', 'test'])
@pytest.mark.parametrize('shot', [1, 5])
def test_binary_masks(folder_root, test_pipeline, mode, shot):
    ds = FolderFewShotDataset(
        str(folder_root / 'binary'),
        shot=shot,
        mode=mode,
        pipeline=test_pipeline)
    assert ds.metainfo['classes'] == ('object', )
    assert list(ds.metainfo['fold_class_ids']) == [0]
    assert len(ds) == 7  # one episode per image
    names = {ds.get_data_info(i)['query_name'] for i in range(7)}
    assert 'images/im0.png' in names and 'images/im3.jpg' in names
    out = ds[1]
    assert out['inputs']['support_imgs'].shape == (shot, 3, 32, 32)
    assert out['data_samples'].gt_sem_seg.data.max() == 1


def test_binary_zero_one_and_zero_255(folder_root):
    ds = FolderFewShotDataset(
        str(folder_root / 'binary'), pipeline=[dict(type='LoadEpisode')])
    for i in range(7):
        out = ds[i]
        stem = out['query_name'].split('/')[-1].split('.')[0]
        width = int(stem[2:]) + 2
        assert out['query_mask'].sum() == 6 * width


@pytest.mark.parametrize('shot', [1, 5])
def test_index_masks(folder_root, test_pipeline, shot):
    ds = FolderFewShotDataset(
        str(folder_root / 'index'),
        classes=INDEX_CLASSES,
        shot=shot,
        train_classes=['a', 'b'],
        test_classes=['c'],
        mode='test',
        pipeline=test_pipeline)
    assert ds.metainfo['classes'] == ('a', 'b', 'c')
    assert list(ds.metainfo['fold_class_ids']) == [2]
    info = ds.get_data_info(0)
    assert info['class_id'] == 2 and info['mask_value'] == 30
    out = ds[0]
    assert set(
        out['data_samples'].gt_sem_seg.data.unique().tolist()) == {0, 1, 255}
    train = FolderFewShotDataset(
        str(folder_root / 'index'),
        classes=INDEX_CLASSES,
        mode='train',
        train_classes=['a', 'b'],
        test_classes=['c'])
    assert list(train.metainfo['fold_class_ids']) == [0, 1]
    first = [train.get_data_info(i)['class_id'] for i in range(4)]
    assert first == [0, 1, 0, 1]  # class-interleaved pool


def test_class_list_maps_to_1_based_values(folder_root, tmp_path):
    ds = FolderFewShotDataset(
        str(folder_root / 'index'), classes={'a': 10}, lazy_init=True)
    assert ds.mask_label(0)['mask_value'] == 10
    with pytest.raises(ValueError, match=r"class 0 \(x\) has 0 image"):
        FolderFewShotDataset(str(folder_root / 'index'), classes=['x'])


def test_bad_inputs(folder_root, tmp_path):
    with pytest.raises(FileNotFoundError, match='data_root'):
        FolderFewShotDataset(str(tmp_path / 'none'))
    with pytest.raises(FileNotFoundError, match='masks'):
        FolderFewShotDataset(str(folder_root / 'binary'), mask_dir='masks2')
    with pytest.raises(KeyError, match='unknown classes'):
        FolderFewShotDataset(
            str(folder_root / 'index'),
            classes=INDEX_CLASSES,
            test_classes=['d'])
    with pytest.raises(ValueError, match='class values'):
        FolderFewShotDataset(str(folder_root / 'index'), classes={'a': 255})
    with pytest.raises(ValueError, match='fold'):
        FolderFewShotDataset(str(folder_root / 'binary'), fold=1)
    root = tmp_path / 'binary'
    shutil.copytree(folder_root / 'binary', root)
    (root / 'masks' / 'im2.png').unlink()
    with pytest.raises(FileNotFoundError, match='im2.jpg'):
        FolderFewShotDataset(str(root))
    (root / 'images' / 'im2.jpg').unlink()
    with pytest.raises(ValueError, match=r'class 0 \(object\) has 6'):
        FolderFewShotDataset(str(root), shot=6)
    img = np.zeros((5, 5, 3), np.uint8)
    Image.fromarray(img).save(root / 'images' / 'im3.jpg')
    ds = FolderFewShotDataset(str(root), pipeline=[dict(type='LoadEpisode')])
    bad = [
        i for i in range(len(ds))
        if ds.get_data_info(i)['query_name'] == 'images/im3.jpg'
    ]
    with pytest.raises(ValueError, match='im3.png.*im3.jpg'):
        ds[bad[0]]
