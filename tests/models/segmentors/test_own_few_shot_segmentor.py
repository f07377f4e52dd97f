# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""HSNet's parts compose outside HSNet: a few-shot segmentor of our own."""
import torch
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS

import hsnet_mm  # noqa: F401
from tests.models.few_shot_toys import (TINY_RESNET_TAPS, packed_batch,
                                        tiny_encoder_cfg, tiny_resnet_cfg)


class OneShotSegmentor(BaseSegmentor):
    """1-shot: backbone -> hypercorrelation -> 4D encoder -> mmseg head."""

    def __init__(self,
                 backbone,
                 neck,
                 encoder,
                 decode_head,
                 data_preprocessor=None):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.encoder = MODELS.build(encoder)
        self.decode_head = MODELS.build(decode_head)

    def extract_feat(self, imgs):
        return self.backbone(imgs)

    def _encode(self, inputs):  # shot 0 of every episode
        pyramid = self.neck(
            self.extract_feat(inputs['query_img']),
            self.extract_feat(inputs['support_imgs'][:, 0]),
            inputs['support_masks'][:, 0])
        return [self.encoder(pyramid)]  # mmseg heads take a list of maps

    def encode_decode(self, inputs, batch_img_metas=None):
        return F.interpolate(
            self.decode_head(self._encode(inputs)),
            size=inputs['query_img'].shape[-2:],
            mode='bilinear',
            align_corners=False)

    def loss(self, inputs, data_samples):
        return self.decode_head.loss(self._encode(inputs), data_samples, {})

    def predict(self, inputs, data_samples):
        for logits, sample in zip(self.encode_decode(inputs), data_samples):
            sample.set_data(
                dict(
                    seg_logits=PixelData(data=logits),
                    pred_sem_seg=PixelData(data=logits.argmax(0)[None])))
        return data_samples

    def _forward(self, inputs, data_samples=None):
        return self.encode_decode(inputs)


def test_own_segmentor_trains_and_predicts():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = OneShotSegmentor(
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
            loss_decode=dict(type='CrossEntropyLoss')))
    model.init_weights()
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-3))
    batch = packed_batch(b=2, k=1, h=64, w=64)
    model.train()
    before = {n: p.clone() for n, p in model.named_parameters()}
    losses = [
        model.train_step(batch, wrapper)['loss'].item() for _ in range(8)
    ]
    changed = {
        n.split('.')[0]
        for n, p in model.named_parameters() if not torch.equal(p, before[n])
    }
    assert changed == {'encoder', 'decode_head'}  # gradients flow there
    # a fixed batch: the loss falls at every step
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.95 * losses[0], losses
    model.eval()
    samples = model.test_step(batch)
    assert [tuple(s.pred_sem_seg.data.shape)
            for s in samples] == [(1, 64, 64)] * 2
    logits = model(**model.data_preprocessor(batch), mode='tensor')
    assert logits.shape == (2, 2, 64, 64)
    torch.testing.assert_close(samples[0].seg_logits.data, logits[0])
