# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import numpy as np
import pytest
import torch

from hsnet_mm.datasets.transforms import PackEpisodeInputs
from hsnet_mm.structures import EPISODE_META_KEYS, stack_episode_inputs


def _results(k=2, h=6, w=5, gt_hw=None):
    rng = np.random.default_rng(0)
    res = dict(
        query_img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8),
        query_mask=np.full(gt_hw or (h, w), 255, np.uint8),
        support_imgs=[
            rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for _ in range(k)
        ],
        support_masks=[np.ones((h, w), np.uint8) for _ in range(k)],
        class_id=4,
        query_name='q.jpg',
        support_names=['s.jpg'] * k,
        img_path='/d/q.jpg',
        support_img_paths=['/d/s.jpg'] * k,
        ori_shape=(9, 8),
        img_shape=(h, w),
        episode_idx=3,
        shot=k)
    return res


def test_layout():
    res = _results()
    out = PackEpisodeInputs()(res)
    inputs = out['inputs']
    assert inputs['query_img'].shape == (3, 6, 5)
    assert inputs['query_img'].dtype == torch.uint8
    assert torch.equal(inputs['query_img'].permute(1, 2, 0),
                       torch.from_numpy(res['query_img']))
    assert inputs['support_imgs'].shape == (2, 3, 6, 5)
    assert inputs['support_masks'].shape == (2, 6, 5)
    assert inputs['support_masks'].dtype == torch.uint8
    sample = out['data_samples']
    assert sample.gt_sem_seg.data.shape == (1, 6, 5)
    assert sample.gt_sem_seg.data.dtype == torch.int64
    assert int(sample.gt_sem_seg.data.max()) == 255
    assert set(sample.metainfo) == set(EPISODE_META_KEYS)
    assert sample.ori_shape == (9, 8) and sample.shot == 2
    batch = stack_episode_inputs({k: [v, v] for k, v in inputs.items()})
    assert batch['support_imgs'].shape == (2, 2, 3, 6, 5)


def test_original_size_gt_and_no_gt():
    res = _results(gt_hw=(9, 8))
    out = PackEpisodeInputs()(res)
    gt = out['data_samples'].gt_sem_seg.data
    # kept at the original size: uint8 (only the metric reads it), no copy
    assert gt.shape == (1, 9, 8) and gt.dtype == torch.uint8
    assert np.shares_memory(gt.numpy(), res['query_mask'])
    wide = _results(gt_hw=(9, 8))
    wide['query_mask'] = wide['query_mask'].astype(np.int32) + 1000
    gt = PackEpisodeInputs()(wide)['data_samples'].gt_sem_seg.data
    assert gt.dtype == torch.int64 and int(gt.max()) == 1255
    res = _results()
    del res['query_mask'], res['shot']
    out = PackEpisodeInputs()(res)
    assert 'gt_sem_seg' not in out['data_samples']
    assert out['data_samples'].shot == 2


def test_unresized_supports_are_refused():
    res = _results()
    res['support_imgs'][1] = np.zeros((7, 5, 3), np.uint8)
    with pytest.raises(ValueError, match='ResizeEpisode'):
        PackEpisodeInputs()(res)
    res = _results()
    res['query_img'] = np.zeros((4, 5, 3), np.uint8)
    with pytest.raises(ValueError, match='ResizeEpisode'):
        PackEpisodeInputs()(res)
