# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import shutil

import numpy as np
import pytest
from PIL import Image

from hsnet_mm.datasets import FolderFewShotDataset
from hsnet_mm.datasets.folder import TAIL_BYTES, image_size
from hsnet_mm.utils import UserError

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
    # found at construction now, not when an episode loads the pair
    with pytest.raises(UserError, match='im3.jpg is 5x5 but masks/im3.png'):
        FolderFewShotDataset(str(root))


def test_two_files_with_one_stem_are_refused(folder_root, tmp_path):
    """One of them used to be dropped silently."""
    root = tmp_path / 'binary'
    shutil.copytree(folder_root / 'binary', root)
    shutil.copy(root / 'images' / 'im2.jpg', root / 'images' / 'im2.png')
    with pytest.raises(ValueError, match='im2.jpg and im2.png'):
        FolderFewShotDataset(str(root))


@pytest.mark.parametrize('kind', ['binary', 'index'])
def test_empty_masks_leave_the_pool_with_one_warning(folder_root, tmp_path,
                                                     monkeypatch, kind):
    """Empty masks used to become supports and queries without object."""
    from hsnet_mm.datasets import folder
    logged = []
    monkeypatch.setattr(folder, 'print_log',
                        lambda msg, **kwargs: logged.append(msg))
    root = tmp_path / kind
    shutil.copytree(folder_root / kind, root)
    masks = sorted((root / 'masks').iterdir())
    for path in masks[:2]:  # class absent: all background
        with Image.open(path) as img:
            shape = img.size[::-1]
        Image.fromarray(np.zeros(shape, np.uint8)).save(path)
    classes = INDEX_CLASSES if kind == 'index' else None
    ds = FolderFewShotDataset(str(root), classes=classes, mode='train')
    stems = {
        ds.get_data_info(i)['query_name'].split('/')[-1].split('.')[0]
        for i in range(len(ds))
    }
    assert stems and not stems & {p.stem for p in masks[:2]}
    (message, ) = logged
    assert f'2 of {len(masks)} mask(s)' in message
    # a class left with too few images is refused, with the count
    for path in masks[2:-2]:
        Image.fromarray(np.zeros(shape, np.uint8)).save(path)
    with pytest.raises(ValueError, match=r'has [0-2] image\(s\).*need at'):
        FolderFewShotDataset(str(root), classes=classes, shot=2)


def test_every_bad_file_is_listed_at_construction(folder_root, tmp_path):
    """A truncated JPEG passes Pillow's open and verify and a mask of
    another size loads too: both crashed training at the first episode
    using them. Every bad file is now named at once, before training."""
    root = tmp_path / 'binary'
    shutil.copytree(folder_root / 'binary', root)
    jpg = root / 'images' / 'im1.jpg'
    jpg.write_bytes(jpg.read_bytes()[:-200])  # cut inside the scan data
    with Image.open(jpg) as img:
        img.verify()  # what a cheap check would have done: passes
    png = root / 'masks' / 'im4.png'
    png.write_bytes(png.read_bytes()[:-12])  # no IEND chunk
    Image.fromarray(np.zeros((3, 3, 3),
                             np.uint8)).save(root / 'images' / 'im5.jpg')
    (root / 'images' / 'im6.jpg').write_bytes(b'not an image')
    with pytest.raises(UserError) as err:
        FolderFewShotDataset(str(root))
    message = str(err.value)
    assert '\n' not in message and message.count('; ') == 3, message
    assert '4 problem(s)' in message
    assert "images/im1.jpg: a truncated JPEG file (it does not end with " \
        "b'\\xff\\xd9')" in message
    assert 'masks/im4.png: cannot read the mask (a truncated PNG' in message
    assert 'images/im5.jpg is 3x3 but masks/im5.png is 14x10' in message
    assert 'images/im6.jpg: not an image' in message


def test_image_size_reads_headers_and_tails(tmp_path):
    path = tmp_path / 'a.jpg'
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(path)
    assert image_size(str(path)) == (9, 6)
    data = path.read_bytes()
    path.write_bytes(data + bytes(TAIL_BYTES - 2))  # padding after FFD9
    assert image_size(str(path)) == (9, 6)
    path.write_bytes(data + bytes(TAIL_BYTES))  # too far from the end
    with pytest.raises(ValueError, match='truncated JPEG'):
        image_size(str(path))
    bmp = tmp_path / 'b.bmp'  # no end marker: the header is checked
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(bmp)
    assert image_size(str(bmp)) == (5, 4)
