# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""EpisodicDataset.set_episode_seed: new episodes, same pool, no re-read."""
import pytest
from mmseg.registry import DATASETS


def keys(dataset):
    out = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        out.append((info['class_id'], info['query_name'],
                    tuple(info['support_names'])))
    return out


def build(**kwargs):
    return DATASETS.build(dict(kwargs, pipeline=[]))


@pytest.mark.parametrize('sampling', ['official', 'random'])
def test_reseeding_equals_a_fresh_dataset(pascal_root, sampling):
    common = dict(
        type='PASCAL5iDataset',
        data_root=str(pascal_root),
        fold=1,
        shot=2,
        mode='test',
        num_episodes=40,
        episode_sampling=sampling)
    dataset = build(**common, episode_seed=0)
    seed0 = keys(dataset)
    dataset.set_episode_seed(3)
    assert dataset.episode_seed == 3
    assert keys(dataset) == keys(build(**common, episode_seed=3))
    assert keys(dataset) != seed0
    dataset.set_episode_seed(0)
    assert keys(dataset) == seed0
    assert len(dataset) == 40


def test_reseeding_the_synthetic_benchmark():
    common = dict(
        type='SyntheticFewShotDataset',
        img_size=32,
        images_per_class=4,
        mode='test',
        num_episodes=12)
    dataset = build(**common)
    dataset.set_episode_seed(7)
    assert keys(dataset) == keys(build(**common, episode_seed=7))
