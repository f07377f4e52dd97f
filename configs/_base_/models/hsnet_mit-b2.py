# HSNet on a frozen ImageNet-1k MiT-B2 (SegFormer's encoder): mmseg's
# MixVisionTransformer with the weights mmseg's own SegFormer configs load by
# URL, tapped by FeatureTapBackbone.
#
# Taps: every transformer layer of stages 2-4 (strides 8, 16, 32: 50, 25 and
# 13 px at 400 x 400), as HSNet taps every bottleneck of ResNet's layer2-4;
# MiT-B2 has 4, 6 and 3 of them, the (3, 6, 4) of ResNet-50. Each layer
# output is the token sequence (N, L, C) before the stage's norm, reshaped
# with the layer's hw_shape argument. Stage 1 (stride 4, 100 px at 400) is
# left out: its 4D correlation costs 16x that of a stride-8 layer.
#
# Squeeze strides: the encoder's defaults ((2, 2, 2), (4, 2, 2), (4, 4, 2)),
# deepest first, shrink the support dims of the three levels 8x, 16x and
# 32x. MiT's overlapping patch embeddings round up (ceil), so each level's
# support dims end at ceil(H / 256) x ceil(W / 256): 2 x 2 at 400 x 400, at
# any size they agree (tests/test_transformer_configs.py checks 400
# and 128 px).
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/segformer/mit_b2_20220624-66e8bf70.pth'  # noqa
data_preprocessor = dict(
    type='EpisodeDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])
model = dict(
    type='HSNet',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='FeatureTapBackbone',
        # mmseg's MiT-B2 (configs/segformer/segformer_mit-b2_*.py); a frozen
        # backbone runs in eval mode, so drop path is off
        backbone=dict(
            type='MixVisionTransformer',
            in_channels=3,
            embed_dims=64,
            num_stages=4,
            num_layers=[3, 4, 6, 3],
            num_heads=[1, 2, 5, 8],
            patch_sizes=[7, 3, 3, 3],
            sr_ratios=[8, 4, 2, 1],
            out_indices=(0, 1, 2, 3),
            mlp_ratio=4,
            qkv_bias=True,
            drop_rate=0.,
            attn_drop_rate=0.,
            drop_path_rate=0.1,
            init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
        # pyramid levels, deepest first (layers.<stage>.1.<layer>)
        taps=[
            ['layers.3.1.0', 'layers.3.1.1', 'layers.3.1.2'],
            [
                'layers.2.1.0', 'layers.2.1.1', 'layers.2.1.2', 'layers.2.1.3',
                'layers.2.1.4', 'layers.2.1.5'
            ],
            ['layers.1.1.0', 'layers.1.1.1', 'layers.1.1.2', 'layers.1.1.3'],
        ],
        frozen=True),
    neck=dict(type='HypercorrelationNeck', mask_support=True),
    # correlation layers per level, deepest first: stage 4, 3, 2
    encoder=dict(
        type='CenterPivot4DEncoder',
        in_channels=(3, 6, 4),
        squeeze_strides=((2, 2, 2), (4, 2, 2), (4, 4, 2))),
    decode_head=dict(
        type='ContextDecodeHead',
        in_channels=128,
        channels=64,
        num_classes=2,
        align_corners=True,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict())
