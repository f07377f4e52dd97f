# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Tiny stock mmseg backbones and packed episode batches for the tests.

The backbones are mmseg's own (``SwinTransformer``, ``MixVisionTransformer``,
``VisionTransformer``, ``ResNetV1c``) with a few channels, random weights
and no ``init_cfg`` (nothing is downloaded).
"""
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample


def tiny_swin_cfg() -> dict:
    """Swin with 8-64 channels; strides 4, 8, 16, 32; depths 1, 2, 2, 1."""
    return dict(
        type='SwinTransformer',
        pretrain_img_size=64,
        embed_dims=8,
        depths=(1, 2, 2, 1),
        num_heads=(1, 2, 2, 4),
        window_size=4,
        drop_path_rate=0.,
        init_cfg=None)


#: Swin taps, deepest first: every block of stages 2-4.
TINY_SWIN_TAPS = [['stages.3.blocks.0'],
                  ['stages.2.blocks.0', 'stages.2.blocks.1'],
                  ['stages.1.blocks.0', 'stages.1.blocks.1']]


def tiny_mit_cfg() -> dict:
    """MiT with 8-64 channels (8 x heads); strides 4-32; 1 layer a stage."""
    return dict(
        type='MixVisionTransformer',
        embed_dims=8,
        num_layers=(1, 1, 1, 1),
        num_heads=(1, 2, 4, 8),
        drop_path_rate=0.,
        init_cfg=None)


def tiny_vit_cfg() -> dict:
    """Plain ViT: patch 8 (one scale), 16 channels, 4 layers, class token."""
    return dict(
        type='VisionTransformer',
        img_size=(64, 64),
        patch_size=8,
        embed_dims=16,
        num_layers=4,
        num_heads=2,
        mlp_ratio=2,
        out_indices=(3, ),
        init_cfg=None)


def tiny_resnet_cfg() -> dict:
    """mmseg ResNetV1c-18 with 8 base channels (BatchNorm)."""
    return dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=8,
        base_channels=8,
        init_cfg=None)


#: ResNetV1c-18 taps, deepest first: every block of layer2-layer4.
TINY_RESNET_TAPS = [['layer4.0', 'layer4.1'], ['layer3.0', 'layer3.1'],
                    ['layer2.0', 'layer2.1']]


def tiny_encoder_cfg(in_channels=(2, 2, 2)) -> dict:
    """A small CenterPivot4DEncoder (16 output channels)."""
    return dict(
        type='CenterPivot4DEncoder',
        in_channels=tuple(in_channels),
        squeeze_channels=(4, 8, 16),
        mix_channels=(16, 16, 16))


def packed_batch(b: int = 2,
                 k: int = 1,
                 h: int = 64,
                 w: int = 64,
                 seed: int = 0) -> dict:
    """A collated batch of episodes as ``EpisodeDataPreProcessor`` takes it.

    The query is the first support image and its mask the support mask, so
    a model can learn the batch.
    """
    g = torch.Generator().manual_seed(seed)
    inputs = dict(query_img=[], support_imgs=[], support_masks=[])
    samples = []
    for i in range(b):
        imgs = torch.randint(0, 256, (k, 3, h, w), generator=g).to(torch.uint8)
        masks = torch.zeros(k, h, w, dtype=torch.uint8)
        masks[:, h // 4:3 * h // 4, w // 4 + i:3 * w // 4] = 1
        imgs[masks[:, None].expand_as(imgs).bool()] //= 4  # darker object
        inputs['query_img'].append(imgs[0].clone())
        inputs['support_imgs'].append(imgs)
        inputs['support_masks'].append(masks)
        sample = SegDataSample(
            metainfo=dict(
                class_id=i, img_shape=(h, w), ori_shape=(h, w), shot=k))
        sample.gt_sem_seg = PixelData(data=masks[:1].long())
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)
