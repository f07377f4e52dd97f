# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import numpy as np
from PIL import Image

from tests.demo.demo_loader import load_demo


def test_examples_are_valid_episodes(tmp_path):
    episodes = load_demo('make_examples').write_examples(str(tmp_path))
    assert [len(ep['supports']) for ep in episodes] == [1, 3]
    sizes = set()
    for ep in episodes:
        for img_path, mask_path in zip(ep['supports'], ep['masks']):
            img = np.asarray(Image.open(img_path))
            mask = np.asarray(Image.open(mask_path))
            assert img.shape[:2] == mask.shape and img.shape[2] == 3
            assert set(np.unique(mask)) == {0, 255}
            sizes.add(img.shape[:2])
        for q in ep['queries']:
            sizes.add(np.asarray(Image.open(q)).shape[:2])
    assert len(sizes) >= 4  # different sizes and aspect ratios
    again = load_demo('make_examples').write_examples(str(tmp_path / 'b'))
    first = np.asarray(Image.open(episodes[1]['queries'][0]))
    np.testing.assert_array_equal(
        first, np.asarray(Image.open(again[1]['queries'][0])))


def test_read_examples_lists_only_complete_episodes(tmp_path):
    make_examples = load_demo('make_examples')
    written = make_examples.write_examples(str(tmp_path))
    (tmp_path / 'secret.txt').write_text('x')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'episode5_query0.png').write_bytes(b'x')
    (tmp_path / 'episode7_query0.png').write_bytes(b'x')  # no supports
    (tmp_path / 'episode8_query0.png').write_bytes(b'x')
    (tmp_path / 'episode8_support0.png').write_bytes(b'x')  # no mask
    found = make_examples.read_examples(str(tmp_path))
    for key in ('queries', 'supports', 'masks'):
        assert [ep[key] for ep in found] == [ep[key] for ep in written]
    # a missing shot ends the episode's shots there
    (tmp_path / 'episode1_support1_mask.png').unlink()
    assert [
        len(ep['supports'])
        for ep in make_examples.read_examples(str(tmp_path))
    ] == [1, 1]
