# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import numpy as np
import pytest
from PIL import Image

from hsnet_mm.datasets.transforms import LoadEpisode
from hsnet_mm.datasets.transforms.load_episode import binarize, read_rgb


def _files(tmp_path, label, name='a', size=None, palette=False):
    h, w = label.shape
    img = np.full((*(size or (h, w)), 3), 100, np.uint8)
    Image.fromarray(img).save(tmp_path / f'{name}.jpg')
    mask = Image.fromarray(label)
    if palette:
        mask = mask.convert('P')
    mask.save(tmp_path / f'{name}.png')
    return str(tmp_path / f'{name}.jpg'), str(tmp_path / f'{name}.png')


def _results(q, s, **kwargs):
    res = dict(
        img_path=q[0],
        seg_map_path=q[1],
        support_img_paths=[s[0]],
        support_seg_map_paths=[s[1]],
        mask_mode='index',
        mask_value=3,
        ignore_index=255)
    res.update(kwargs)
    return res


LABEL = np.array([[0, 3, 3], [255, 3, 7], [0, 0, 255]], np.uint8)


@pytest.mark.parametrize('palette', [False, True])
def test_index_masks_keep_ignore(tmp_path, palette):
    q = _files(tmp_path, LABEL, 'q', palette=palette)
    s = _files(tmp_path, LABEL, 's')
    out = LoadEpisode()(_results(q, s))
    assert out['query_img'].shape == (3, 3, 3)
    assert out['query_img'].dtype == np.uint8
    expect = np.array([[0, 1, 1], [255, 1, 0], [0, 0, 255]], np.uint8)
    assert np.array_equal(out['query_mask'], expect)
    assert np.array_equal(out['support_masks'][0], expect)
    assert out['ori_shape'] == out['img_shape'] == (3, 3)
    out = LoadEpisode()(_results(q, s, query_keep_ignore=False))
    assert np.array_equal(out['query_mask'], np.where(expect == 255, 0,
                                                      expect))
    assert 255 in out['support_masks'][0]  # supports keep the ignore label


def test_no_query_mask(tmp_path):
    q = _files(tmp_path, LABEL, 'q')
    out = LoadEpisode()(_results(q, q, seg_map_path=None))
    assert 'query_mask' not in out


def test_binarize_modes():
    label = np.array([[0, 1, 127, 128, 255]], np.uint8)
    assert binarize(label, 'threshold', None, None,
                    True).tolist() == [[0, 0, 0, 1, 1]]
    assert binarize(label, 'nonzero', None, 255,
                    True).tolist() == [[0, 1, 1, 1, 1]]
    assert binarize(label, 'index', 1, 255,
                    True).tolist() == [[0, 1, 0, 0, 255]]
    with pytest.raises(ValueError, match='mask_mode'):
        binarize(label, 'rgb', None, None, True)


def test_image_source():
    calls = []

    def source(path):
        calls.append(path)
        return np.zeros((4, 5, 3), np.uint8), np.full((4, 5), 3, np.uint8)

    res = dict(
        img_path='q',
        seg_map_path='q',
        support_img_paths=['s'],
        support_seg_map_paths=['s'],
        mask_mode='index',
        mask_value=3,
        image_source=source)
    out = LoadEpisode()(res)
    assert calls == ['q', 's']
    assert out['query_mask'].sum() == 20


def test_errors_name_the_file(tmp_path):
    q = _files(tmp_path, LABEL, 'q')
    s = _files(tmp_path, LABEL, 's', size=(4, 3))
    with pytest.raises(ValueError, match=r's\.png is 3x3 .*s\.jpg is 3x4'):
        LoadEpisode()(_results(q, s))
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        LoadEpisode()(_results(q, (str(tmp_path / 'nope.jpg'), q[1])))
    with pytest.raises(FileNotFoundError, match='nope.png'):
        LoadEpisode()(_results(q, (q[0], str(tmp_path / 'nope.png'))))
    (tmp_path / 'bad.jpg').write_bytes(b'\xff\xd8\xff garbage')
    with pytest.raises(OSError, match='bad.jpg'):
        LoadEpisode()(_results(q, (str(tmp_path / 'bad.jpg'), q[1])))
    data = (tmp_path / 'q.png').read_bytes()
    (tmp_path / 'cut.png').write_bytes(data[:len(data) // 2])
    with pytest.raises(OSError, match='cut.png'):
        LoadEpisode()(_results(q, (q[0], str(tmp_path / 'cut.png'))))
    Image.fromarray(np.zeros((3, 3, 3), np.uint8)).save(tmp_path / 'rgb.png')
    with pytest.raises(ValueError, match='rgb.png is a RGB image'):
        LoadEpisode()(_results(q, (q[0], str(tmp_path / 'rgb.png'))))


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    """Pillow's convert('RGB') clips 16-bit values: 99% white."""
    values = np.array([[0, 257, 257 * 128], [30000, 65278, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / 'deep.png')
    with Image.open(tmp_path / 'deep.png') as img:
        assert img.mode.startswith('I')  # Pillow reads it as 16-bit
    rgb = read_rgb(str(tmp_path / 'deep.png'))
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    expected = np.array([[0, 1, 128], [117, 254, 255]], np.uint8)
    for c in range(3):
        assert np.array_equal(rgb[..., c], expected)
    # 8-bit images are unchanged
    Image.fromarray(expected).save(tmp_path / 'gray8.png')
    assert np.array_equal(
        read_rgb(str(tmp_path / 'gray8.png'))[..., 0], expected)
