# The `make demo` model: HSNet on the file-free synthetic benchmark, trained
# on a CPU in a few minutes.
#
# No pretrained weights can be downloaded for the demo, so the backbone is a
# small ResNet-18 (16 base channels) trained FROM SCRATCH together with the
# learner (frozen=False, no init_cfg), on 96 x 96 episodes. The benchmark
# configs instead freeze an ImageNet backbone, as the paper does.
_base_ = [
    '../_base_/models/hsnet_r50.py', '../_base_/datasets/synthetic.py',
    '../_base_/schedules/hsnet_adam.py', '../_base_/default_runtime.py'
]
model = dict(
    backbone=dict(
        depth=18,
        stem_channels=16,
        base_channels=16,
        frozen=False,
        init_cfg=None),
    encoder=dict(in_channels=(2, 2, 2)))  # 2 blocks per stage (layer4..2)
# 1800 episodes (225 iterations) per epoch, fresh episodes each epoch;
# about 3 minutes on 2 CPU cores
train_cfg = dict(max_epochs=6, val_interval=1)
default_hooks = dict(logger=dict(interval=25))
randomness = dict(seed=0)
