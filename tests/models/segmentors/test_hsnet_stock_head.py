# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""HSNet with stock mmseg parts: a ResNetV1c backbone and an FCNHead."""
import torch
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import hsnet_mm  # noqa: F401
from tests.models.few_shot_toys import (TINY_RESNET_TAPS, packed_batch,
                                        tiny_encoder_cfg, tiny_resnet_cfg)


def test_hsnet_with_fcn_head_trains_and_predicts():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='HSNet',
            data_preprocessor=dict(type='EpisodeDataPreProcessor'),
            backbone=dict(
                type='FeatureTapBackbone',
                backbone=tiny_resnet_cfg(),
                taps=TINY_RESNET_TAPS),
            neck=dict(type='HypercorrelationNeck'),
            encoder=tiny_encoder_cfg(),
            decode_head=dict(
                type='FCNHead',
                in_channels=16,
                channels=16,
                num_convs=1,
                concat_input=False,
                dropout_ratio=0.,
                num_classes=2,
                align_corners=False,
                loss_decode=dict(type='CrossEntropyLoss'))))
    model.init_weights()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    model.train()
    batch = packed_batch(b=2, k=1)
    before = {n: p.clone() for n, p in model.named_parameters()}
    loss = model.train_step(batch, wrapper)['decode.loss_ce']
    assert torch.isfinite(loss)
    changed = {
        n.split('.')[0]
        for n, p in model.named_parameters() if not torch.equal(p, before[n])
    }
    assert changed == {'encoder', 'decode_head'}
    model.eval()
    shots = packed_batch(b=2, k=3)
    with torch.no_grad():
        logits = model(**model.data_preprocessor(shots), mode='tensor')
        samples = model.test_step(shots)
    assert logits.shape == (2, 3, 2, 64, 64)
    assert [tuple(s.pred_sem_seg.data.shape)
            for s in samples] == [(1, 64, 64)] * 2
