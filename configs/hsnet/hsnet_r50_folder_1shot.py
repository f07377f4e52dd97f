# HSNet (frozen ImageNet ResNet-50) on your own folder of images and masks:
# FolderFewShotDataset, see docs/custom_dataset.md.
#
#   data/my_dataset/images/<any/sub/path>/<stem>.{jpg,png,...}
#   data/my_dataset/masks/<any/sub/path>/<stem>.png
#
# Self-contained: the dataset and dataloaders are defined here, so only the
# model, schedule and runtime are inherited.
_base_ = [
    '../_base_/models/hsnet_r50.py', '../_base_/schedules/hsnet_adam.py',
    '../_base_/default_runtime.py'
]
dataset_type = 'FolderFewShotDataset'
data_root = 'data/my_dataset'
# None: binary masks (any nonzero pixel is the object), one class. Index
# masks: a list of names (values 1..N) or {name: value}; 255 is ignored.
classes = None
# Train on some classes and validate/test on held-out ones, e.g.
# train_classes = ['cat', 'dog'] and test_classes = ['horse'];
# None uses every class for both.
train_classes = None
test_classes = None
img_scale = (400, 400)
pipeline = [
    dict(type='LoadEpisode'),
    dict(type='ResizeEpisode', scale=img_scale),
    dict(type='PackEpisodeInputs'),
]
common = dict(
    type=dataset_type,
    data_root=data_root,
    classes=classes,
    train_classes=train_classes,
    test_classes=test_classes,
    pipeline=pipeline)
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='EpisodicSampler', shuffle=True),
    dataset=dict(**common, shot=1, mode='train'))
# val/test: one episode per (image, class) pair unless num_episodes is set;
# episodes are a function of episode_seed, the same on any number of GPUs
val_dataloader = dict(
    train_dataloader,
    batch_size=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(train_dataloader['dataset'], mode='val', episode_seed=0))
test_dataloader = dict(
    val_dataloader,
    dataset=dict(val_dataloader['dataset'], mode='test', episode_seed=1))
val_evaluator = dict(type='FewShotMetric')
test_evaluator = val_evaluator
# small datasets saturate early: 100 epochs, the best val mIoU is kept
train_cfg = dict(max_epochs=100)
