# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from hsnet_mm.engine import EpisodeVisualizationHook
from hsnet_mm.models import EpisodeDataPreProcessor


def fake_runner(tmp_path):
    model = SimpleNamespace(data_preprocessor=EpisodeDataPreProcessor())
    dataset = SimpleNamespace(metainfo=dict(classes=('cat', 'dog')))
    return SimpleNamespace(
        model=model,
        log_dir=str(tmp_path / 'log'),
        test_dataloader=SimpleNamespace(dataset=dataset))


def episode_batch(b=2, k=2, size=16, normalised=False):
    g = torch.Generator().manual_seed(0)
    query = torch.randint(0, 256, (b, 3, size, size), generator=g)
    supports = torch.randint(0, 256, (b, k, 3, size, size), generator=g)
    masks = torch.randint(0, 2, (b, k, size, size), generator=g)
    masks[:, :, 0, 0] = 255  # an ignored pixel
    original = query.byte()
    if normalised:
        pre = EpisodeDataPreProcessor()
        query, supports = pre.normalize(query), pre.normalize(supports)
    else:
        query, supports = query.byte(), supports.byte()
    inputs = dict(
        query_img=list(query),
        support_imgs=list(supports),
        support_masks=list(masks.byte()))
    outputs = []
    for i in range(b):
        sample = SegDataSample(metainfo=dict(episode_idx=10 + i, class_id=1))
        sample.gt_sem_seg = PixelData(data=torch.ones(1, size, size).long())
        pred = torch.zeros(1, size, size).long()
        pred[:, :size // 2] = 1
        sample.pred_sem_seg = PixelData(data=pred)
        outputs.append(sample)
    return dict(inputs=inputs), outputs, original


@pytest.mark.parametrize('normalised', [False, True])
def test_saves_one_png_per_episode(tmp_path, normalised):
    runner = fake_runner(tmp_path)
    hook = EpisodeVisualizationHook(draw=True, out_dir=str(tmp_path / 'vis'))
    hook.before_test(runner)
    data_batch, outputs, query = episode_batch(normalised=normalised)
    hook.after_test_iter(runner, 0, data_batch, outputs)
    files = sorted(p.name for p in (tmp_path / 'vis').iterdir())
    assert files == ['episode_00010.png', 'episode_00011.png']
    img = cv2.imread(str(tmp_path / 'vis' / files[0]))[..., ::-1]
    # 4 panels of 16 px (2 supports, prediction, ground truth) + 3 gaps
    assert img.shape[1] == 4 * 16 + 3 * 4
    # the prediction panel's lower half shows the query unchanged: the
    # denormalised image is the original one
    panel = img[-8:, 2 * (16 + 4):2 * (16 + 4) + 16]
    expected = query[0].permute(1, 2, 0)[8:].numpy()
    np.testing.assert_allclose(panel, expected, atol=1)


def test_draw_false_and_default_out_dir(tmp_path):
    runner = fake_runner(tmp_path)
    data_batch, outputs, _ = episode_batch()
    hook = EpisodeVisualizationHook()
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, data_batch, outputs)
    assert not (tmp_path / 'log').exists()
    hook = EpisodeVisualizationHook(draw=True, interval=2)
    hook.before_test(runner)
    hook.after_test_iter(runner, 0, data_batch, outputs)  # skipped: 1st
    assert not (tmp_path / 'log').exists()
    hook.after_test_iter(runner, 1, data_batch, outputs)
    assert len(list((tmp_path / 'log' / 'vis_episodes').iterdir())) == 2


def test_bad_interval():
    with pytest.raises(ValueError):
        EpisodeVisualizationHook(interval=0)
