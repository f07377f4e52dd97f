# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The "writing a dataset" example of the EpisodicDataset docstring runs."""
import inspect
import os
import re
import textwrap

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from hsnet_mm.datasets import EpisodicDataset


def docstring_example() -> str:
    """The indented code block after 'Writing a dataset' in the docstring."""
    doc = inspect.getdoc(EpisodicDataset)
    section = doc[doc.index('**Writing a dataset.**'):]
    block = re.search(r'::\n\n((?:    .*\n|\n)+)', section + '\n').group(1)
    return textwrap.dedent(block)


@pytest.fixture
def shapes_dataset_cls():
    code = docstring_example()
    assert len(code.strip().splitlines()) <= 25  # a short example
    namespace = dict(DATASETS=DATASETS, EpisodicDataset=EpisodicDataset, os=os)
    exec(compile(code, 'EpisodicDataset docstring', 'exec'), namespace)
    yield namespace['ShapesDataset']
    DATASETS.module_dict.pop('ShapesDataset')


def write_shapes_tree(root, per_class=4):
    rng = np.random.default_rng(0)
    for name in ('circle', 'square', 'star', 'heart'):
        (root / 'images' / name).mkdir(parents=True)
        (root / 'masks' / name).mkdir(parents=True)
        for i in range(per_class):
            img = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
            Image.fromarray(img).save(root / 'images' / name / f'{i}.jpg')
            mask = np.zeros((12, 16), np.uint8)
            mask[2:8, 3:3 + i + 2] = 255
            Image.fromarray(mask).save(root / 'masks' / name / f'{i}.png')


def test_docstring_dataset_builds_and_yields_episodes(shapes_dataset_cls,
                                                      tmp_path):
    write_shapes_tree(tmp_path)
    pipeline = [
        dict(type='LoadEpisode'),
        dict(type='ResizeEpisode', scale=(16, 16)),
        dict(type='PackEpisodeInputs')
    ]
    test = DATASETS.build(
        dict(
            type='ShapesDataset',
            data_root=str(tmp_path),
            fold=1,
            shot=2,
            mode='test',
            num_episodes=6,
            pipeline=pipeline))
    assert test.split_class_ids == [2, 3]
    assert len(test) == 6
    episode = test[0]
    assert episode['inputs']['support_imgs'].shape == (2, 3, 16, 16)
    assert set(np.unique(episode['inputs']['support_masks'])) <= {0, 1}
    meta = episode['data_samples'].metainfo
    assert meta['class_id'] in (2, 3)
    assert meta['query_name'] not in meta['support_names']
    train = shapes_dataset_cls(str(tmp_path), fold=1, mode='train')
    assert train.split_class_ids == [0, 1] and len(train) == 8
    with pytest.raises(ValueError, match='folds 0..1'):
        shapes_dataset_cls(str(tmp_path), fold=2)
