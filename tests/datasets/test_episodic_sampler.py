# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Episodes are the same whatever the workers, ranks or batch size."""
import pytest
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader

from hsnet_mm.datasets import EpisodicSampler, PASCAL5iDataset


def _summary(batches):
    """(epoch-free index, class, query, supports, image checksum) per item."""
    out = []
    for batch in batches:
        imgs = batch['inputs']['support_imgs']  # pseudo_collate: a list
        for img, sample in zip(imgs, batch['data_samples']):
            out.append((sample.episode_idx, sample.class_id, sample.query_name,
                        tuple(sample.support_names), int(img.sum()),
                        int(sample.gt_sem_seg.data.sum())))
    return out


def _run(dataset, sampler, workers, batch_size, epochs, persistent=False):
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=workers,
        persistent_workers=persistent and workers > 0,
        collate_fn=pseudo_collate)
    result = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        result.append(_summary(loader))
    return result


def test_sampler_encodes_epoch(pascal_root):
    ds = PASCAL5iDataset(str(pascal_root), mode='train')
    sampler = EpisodicSampler(ds, shuffle=True, seed=3)
    first = list(sampler)
    assert sorted(first) == list(range(len(ds)))
    sampler.set_epoch(2)
    second = list(sampler)
    assert sorted(second) == [2 * len(ds) + i for i in range(len(ds))]
    assert [i - 2 * len(ds) for i in second] != first  # reshuffled
    assert ds.decode_index(second[0]) == (2, second[0] - 2 * len(ds))


def test_workers_do_not_change_training_episodes(pascal_root, test_pipeline):
    ds = PASCAL5iDataset(
        str(pascal_root),
        mode='train',
        shot=2,
        pipeline=test_pipeline,
        num_episodes=12)
    single = _run(ds, EpisodicSampler(ds, seed=1), 0, 4, 2)
    multi = _run(ds, EpisodicSampler(ds, seed=1), 2, 3, 2, persistent=True)
    assert single == multi
    assert sorted(single[0]) != sorted(single[1])  # fresh each epoch
    assert [x[:2]
            for x in sorted(single[0])] == [x[:2] for x in sorted(single[1])]


def test_workers_and_batch_size_do_not_change_test_episodes(
        pascal_root, test_pipeline):
    ds = PASCAL5iDataset(
        str(pascal_root),
        mode='test',
        shot=5,
        pipeline=test_pipeline,
        num_episodes=10)
    sampler = EpisodicSampler(ds, shuffle=False, seed=0)
    single = _run(ds, sampler, 0, 1, 1)[0]
    multi = _run(ds, EpisodicSampler(ds, shuffle=False, seed=0), 2, 4, 1)[0]
    assert single == multi


def _key(info):
    return (info['episode_idx'], info['query_name'],
            tuple(info['support_names']))


@pytest.mark.parametrize('round_up', [True, False])
def test_two_shards_union_equals_single_process(pascal_root, round_up):
    ds = PASCAL5iDataset(
        str(pascal_root), mode='train', shot=1, num_episodes=11)
    single = EpisodicSampler(ds, seed=5, round_up=round_up)
    shards = [
        EpisodicSampler(ds, seed=5, round_up=round_up, num_replicas=2, rank=r)
        for r in (0, 1)
    ]
    for epoch in (0, 1):
        for s in [single] + shards:
            s.set_epoch(epoch)
        whole = [ds.get_data_info(i) for i in single]
        parts = [ds.get_data_info(i) for s in shards for i in s]
        assert {_key(d) for d in parts} == {_key(d) for d in whole}
        if not round_up:
            assert len(parts) == len(whole) == 11
        assert len(shards[0]) == 6


def test_sampler_arguments(pascal_root):
    ds = PASCAL5iDataset(str(pascal_root), num_episodes=4)
    with pytest.raises(ValueError, match='rank'):
        EpisodicSampler(ds, seed=0, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match='both'):
        EpisodicSampler(ds, seed=0, num_replicas=2)
    assert list(EpisodicSampler(ds, shuffle=False, seed=0)) == [0, 1, 2, 3]


def test_built_from_registry(pascal_root):
    from mmengine.registry import DATA_SAMPLERS, DATASETS, DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        ds = DATASETS.build(
            dict(type='PASCAL5iDataset', data_root=str(pascal_root), fold=2))
        sampler = DATA_SAMPLERS.build(
            dict(type='EpisodicSampler', shuffle=False, seed=0),
            default_args=dict(dataset=ds))
    assert isinstance(ds, PASCAL5iDataset) and len(ds) == 1000
    assert isinstance(sampler, EpisodicSampler)
    assert list(sampler)[:3] == [0, 1, 2]
