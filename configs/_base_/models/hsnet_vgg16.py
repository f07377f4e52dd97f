# HSNet with a frozen ImageNet VGG-16 (torchvision IMAGENET1K_V1 weights,
# which the official `pretrained=True` gave), loaded by URL: no torchvision.
data_preprocessor = dict(
    type='EpisodeDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])
model = dict(
    type='HSNet',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='HSNetVGG',
        depth=16,
        # conv4_1-4_3, conv5_1-5_3 (pre-ReLU), pool5
        tap_groups=((17, 19, 21), (24, 26, 28), (30, )),
        frozen=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'vgg16-397923af.pth')),
    neck=dict(type='HypercorrelationNeck', mask_support=True),
    # correlation layers per level, deepest first: pool5, conv5, conv4
    encoder=dict(type='CenterPivot4DEncoder', in_channels=(1, 3, 3)),
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
