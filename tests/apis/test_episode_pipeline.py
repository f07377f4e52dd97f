# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A config's test pipeline on in-memory episodes."""
import pytest
from mmengine.config import Config

import hsnet_mm  # noqa: F401
from hsnet_mm.apis import episode_pipeline
from tests.apis.episode_helpers import INPUT_HW, box_mask, image, tiny_config


def test_the_loading_and_training_steps_are_dropped():
    cfg = tiny_config()
    cfg.test_dataloader.dataset.pipeline.insert(
        1, dict(type='EpisodeRandomFlip', prob=0.5))
    steps = episode_pipeline.test_pipeline_cfg(cfg)
    assert [t['type'] for t in steps] == ['ResizeEpisode', 'PackEpisodeInputs']
    # the val pipeline serves when there is no test one
    val = Config(
        dict(
            val_dataloader=dict(
                dataset=dict(pipeline=cfg.test_dataloader.dataset.pipeline))))
    assert episode_pipeline.test_pipeline_cfg(val) == steps


def test_configs_without_a_usable_pipeline_are_refused():
    with pytest.raises(ValueError, match='no test_dataloader'):
        episode_pipeline.test_pipeline_cfg(Config(dict(model=dict())))
    bad = Config(
        dict(
            test_dataloader=dict(
                dataset=dict(pipeline=[
                    dict(type='LoadEpisode'),
                    dict(type='ResizeEpisode', scale=(8, 8))
                ]))))
    with pytest.raises(ValueError, match='must end with PackEpisodeInputs'):
        episode_pipeline.test_pipeline_cfg(bad)


def test_packs_an_episode_at_the_input_size():
    pipeline = episode_pipeline.EpisodePipeline(tiny_config())
    query = image(30, 90, 1)
    supports = [image(40, 70, 2), image(64, 48, 3)]
    masks = [(box_mask(40, 70) > 0).astype('uint8'), (box_mask(64, 48)
                                                      > 0).astype('uint8')]
    packed = pipeline(query, supports, masks, dict(img_path='q.png'))
    inputs, sample = packed['inputs'], packed['data_samples']
    assert tuple(inputs['query_img'].shape) == (3, *INPUT_HW)
    assert tuple(inputs['support_imgs'].shape) == (2, 3, *INPUT_HW)
    assert tuple(inputs['support_masks'].shape) == (2, *INPUT_HW)
    assert sample.metainfo['ori_shape'] == (30, 90)
    assert sample.metainfo['img_shape'] == INPUT_HW
    assert sample.metainfo['img_path'] == 'q.png'
    assert sample.metainfo['shot'] == 2
    assert 'gt_sem_seg' not in sample  # no query mask: plain inference
