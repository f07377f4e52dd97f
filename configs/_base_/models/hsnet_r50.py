# HSNet with a frozen ImageNet ResNet-50 (torchvision IMAGENET1K_V1 weights,
# which the official `pretrained=True` gave), loaded by URL: no torchvision.
data_preprocessor = dict(
    type='EpisodeDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375])
model = dict(
    type='HSNet',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='HSNetResNet',
        depth=50,
        tap_stages=(1, 2, 3),
        frozen=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'resnet50-0676ba61.pth')),
    neck=dict(type='HypercorrelationNeck', mask_support=True),
    # correlation layers per level, deepest first: layer4, layer3, layer2
    encoder=dict(type='CenterPivot4DEncoder', in_channels=(3, 6, 4)),
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
