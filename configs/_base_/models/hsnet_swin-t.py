# HSNet on a frozen ImageNet-1k Swin-T: mmseg's SwinTransformer with the
# weights mmseg's own Swin configs load by URL, tapped by FeatureTapBackbone.
#
# Taps: every block of stages 2-4 (strides 8, 16, 32: 50, 25 and 13 px at
# 400 x 400), as HSNet taps every bottleneck of ResNet's layer2-4; each block
# output is the residual stream (N, L, C), reshaped with the block's
# hw_shape argument. Stage 1 (stride 4, 100 px at 400) is left out: its 4D
# correlation costs 16x that of a stride-8 layer.
#
# Squeeze strides: the encoder's defaults ((2, 2, 2), (4, 2, 2), (4, 4, 2)),
# deepest first, shrink the support dims of the three levels 8x, 16x and
# 32x. Swin pads every stride-2 step (ceil), so each level's support dims end
# at ceil(H / 256) x ceil(W / 256): 2 x 2 at 400 x 400, at any size they
# agree (tests/test_transformer_configs.py checks 400 and 128 px).
checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/pretrain/swin/swin_tiny_patch4_window7_224_20220317-1cdeb081.pth'  # noqa
data_preprocessor = dict(
    type='EpisodeDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])
model = dict(
    type='HSNet',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='FeatureTapBackbone',
        # mmseg's Swin-T (configs/_base_/models/upernet_swin.py); a frozen
        # backbone runs in eval mode, so drop path is off
        backbone=dict(
            type='SwinTransformer',
            pretrain_img_size=224,
            embed_dims=96,
            patch_size=4,
            window_size=7,
            mlp_ratio=4,
            depths=[2, 2, 6, 2],
            num_heads=[3, 6, 12, 24],
            strides=(4, 2, 2, 2),
            out_indices=(0, 1, 2, 3),
            qkv_bias=True,
            qk_scale=None,
            patch_norm=True,
            drop_rate=0.,
            attn_drop_rate=0.,
            drop_path_rate=0.3,
            use_abs_pos_embed=False,
            act_cfg=dict(type='GELU'),
            norm_cfg=dict(type='LN', requires_grad=True),
            init_cfg=dict(type='Pretrained', checkpoint=checkpoint)),
        # pyramid levels, deepest first
        taps=[
            ['stages.3.blocks.0', 'stages.3.blocks.1'],
            [
                'stages.2.blocks.0', 'stages.2.blocks.1', 'stages.2.blocks.2',
                'stages.2.blocks.3', 'stages.2.blocks.4', 'stages.2.blocks.5'
            ],
            ['stages.1.blocks.0', 'stages.1.blocks.1'],
        ],
        frozen=True),
    neck=dict(type='HypercorrelationNeck', mask_support=True),
    # correlation layers per level, deepest first: stage 4, 3, 2
    encoder=dict(
        type='CenterPivot4DEncoder',
        in_channels=(2, 6, 2),
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
