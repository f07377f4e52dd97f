_base_ = './hsnet_r50.py'
model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(checkpoint='https://download.pytorch.org/models/'
                      'resnet101-63fe2227.pth')),
    encoder=dict(in_channels=(3, 23, 4)))
