# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Images and masks of every form, converted or refused with a clear name."""
import numpy as np
import pytest
from PIL import Image

from hsnet_mm.apis.episode_inputs import load_support_set, to_mask, to_rgb
from tests.apis.episode_helpers import box_mask, image


def test_rgb_forms_agree(tmp_path):
    img = image(20, 30, 0)
    path = tmp_path / 'a.png'
    Image.fromarray(img).save(path)
    for src in (img, Image.fromarray(img), str(path), path):
        out = to_rgb(src, 'query')
        assert out.dtype == np.uint8 and out.shape == (20, 30, 3)
        np.testing.assert_array_equal(out, img)


def test_images_are_converted(tmp_path):
    gray = image(8, 10, 1)[..., 0]
    expected = np.repeat(gray[..., None], 3, axis=2)
    np.testing.assert_array_equal(to_rgb(gray, 'q'), expected)
    np.testing.assert_array_equal(to_rgb(gray[..., None], 'q'), expected)
    np.testing.assert_array_equal(to_rgb(Image.fromarray(gray), 'q'), expected)
    rgb = image(8, 10, 2)
    rgba = np.concatenate([rgb, np.full((8, 10, 1), 7, np.uint8)], axis=2)
    np.testing.assert_array_equal(to_rgb(rgba, 'q'), rgb)
    path = tmp_path / 'rgba.png'
    Image.fromarray(rgba).save(path)
    np.testing.assert_array_equal(to_rgb(str(path), 'q'), rgb)
    # palette: the colours, not the indices
    pal = Image.fromarray(rgb).quantize(colors=16)
    np.testing.assert_array_equal(
        to_rgb(pal, 'q'), np.asarray(pal.convert('RGB')))
    # 16 bit: scaled to 0..255, file and array alike
    deep = (np.arange(80, dtype=np.uint16).reshape(8, 10) * 800)
    path16 = tmp_path / 'deep.png'
    Image.fromarray(deep).save(path16)
    assert Image.open(path16).mode.startswith('I')
    want = np.round(deep / 65535 * 255).astype(np.uint8)
    for src in (deep, str(path16)):
        out = to_rgb(src, 'q')
        np.testing.assert_array_equal(out[..., 0], want)
        np.testing.assert_array_equal(out[..., 2], want)


def test_images_refused_with_names(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'supports\[1\].*nope.png'):
        to_rgb(str(tmp_path / 'nope.png'), 'supports[1]')
    with pytest.raises(OSError, match='is not a file'):
        to_rgb(str(tmp_path), 'query')
    bad = tmp_path / 'corrupt.jpg'
    bad.write_bytes(b'\xff\xd8\xff\xe0 not really a jpeg')
    with pytest.raises(OSError, match=r'query: cannot read image.*corrupt'):
        to_rgb(str(bad), 'query')
    truncated = tmp_path / 'truncated.png'
    Image.fromarray(image(64, 64, 3)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(OSError, match='truncated.png'):
        to_rgb(str(truncated), 'query')
    with pytest.raises(ValueError, match='float images are ambiguous'):
        to_rgb(np.zeros((4, 4, 3)), 'query')
    with pytest.raises(ValueError, match=r'query: an image must be'):
        to_rgb(np.zeros((4, 4, 5), np.uint8), 'query')
    with pytest.raises(TypeError, match='file path, a numpy array'):
        to_rgb(3, 'query')


def test_masks_nonzero_is_foreground(tmp_path):
    m = box_mask(10, 12)
    want = (m > 0).astype(np.uint8)
    np.testing.assert_array_equal(to_mask(m, 'm'), want)
    np.testing.assert_array_equal(to_mask(m // 255, 'm'), want)
    np.testing.assert_array_equal(to_mask(m.astype(bool), 'm'), want)
    np.testing.assert_array_equal(to_mask(m.astype(np.float32), 'm'), want)
    np.testing.assert_array_equal(
        to_mask(np.stack([0 * m, m, 0 * m], axis=2), 'm'), want)
    # 16-bit file and palette file (indices: 0 background)
    p16 = tmp_path / 'm16.png'
    Image.fromarray(m.astype(np.uint16) * 3).save(p16)
    np.testing.assert_array_equal(to_mask(str(p16), 'm'), want)
    pal = Image.frombytes('P', (12, 10),
                          ((m > 0) * 3).astype(np.uint8).tobytes())
    pal.putpalette([0, 0, 0] * 3 + [0, 0, 0] + [1, 2, 3] * 252)
    pal.save(tmp_path / 'pal.png')
    np.testing.assert_array_equal(
        to_mask(str(tmp_path / 'pal.png'), 'm'), want)
    # RGBA painted on a transparent layer: transparent pixels are background
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., :3] = 255  # white, but transparent...
    rgba[..., 3] = m  # ...except on the box
    np.testing.assert_array_equal(to_mask(rgba, 'm'), want)
    Image.fromarray(rgba).save(tmp_path / 'rgba.png')
    np.testing.assert_array_equal(
        to_mask(str(tmp_path / 'rgba.png'), 'm'), want)


def test_support_set_checks(tmp_path):
    img, mask = image(10, 12, 0), box_mask(10, 12)
    imgs, masks = load_support_set(img, mask)  # a single shot
    assert len(imgs) == 1 and masks[0].max() == 1
    with pytest.raises(ValueError, match='2 support image.*1 support mask'):
        load_support_set([img, img], [mask])
    with pytest.raises(ValueError, match='at least one support'):
        load_support_set([], [])
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(tmp_path / 'e.png')
    with pytest.raises(
            ValueError,
            match=r'shot 1: support_masks\[1\] \(.*e.png\) has no '
            'foreground'):
        load_support_set([img, img], [mask, str(tmp_path / 'e.png')])
    Image.fromarray(box_mask(11, 12)).save(tmp_path / 'big.png')
    Image.fromarray(img).save(tmp_path / 'img.png')
    with pytest.raises(
            ValueError,
            match=r'shot 0: .*big.png\) is 12x11 \(WxH\) but .*img.png\) '
            r'is 12x10'):
        load_support_set([str(tmp_path / 'img.png')],
                         [str(tmp_path / 'big.png')])


def test_masks_of_strings_or_objects_are_refused():
    """issue 26: such arrays used to count as all foreground."""
    for bad in (np.array([['a', 'b'],
                          ['c',
                           '']]), np.array([[None, 1], [2, 3]], dtype=object)):
        with pytest.raises(
                ValueError, match=r'support_masks\[0\].*holds '
                'numbers'):
            to_mask(bad, 'support_masks[0]')
    assert to_mask(np.array([[True, False]]), 'm').tolist() == [[1, 0]]
