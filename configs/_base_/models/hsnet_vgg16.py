_base_ = './hsnet_r50.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='HSNetVGG',
        depth=16,
        # conv4_1-4_3, conv5_1-5_3 (pre-ReLU), pool5
        tap_groups=((17, 19, 21), (24, 26, 28), (30, )),
        frozen=True,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='https://download.pytorch.org/models/'
            'vgg16-397923af.pth')),
    encoder=dict(in_channels=(1, 3, 3)))
