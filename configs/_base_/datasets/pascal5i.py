# PASCAL-5i episodes (see docs/dataset_prepare.md for the data tree).
# Official protocol: images resized to 400 x 400 (Pillow bilinear), masks
# with torch's legacy nearest rule, no augmentation; test = the official
# 1000 episodes of the fold, replayed name for name.
dataset_type = 'PASCAL5iDataset'
data_root = 'data/VOCdevkit/VOC2012'
split_dir = 'splits/pascal'  # relative to data_root
img_scale = (400, 400)
fold = 0
pipeline = [
    dict(type='LoadEpisode'),
    dict(type='ResizeEpisode', scale=img_scale),
    dict(type='PackEpisodeInputs'),
]
# HSNet's total batch: tools/train.py splits it over the processes
# (1 GPU x 20, 4 GPUs x 5); None keeps train_dataloader.batch_size per GPU.
global_batch_size = 20
train_dataloader = dict(
    batch_size=20,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='EpisodicSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_dir=split_dir,
        fold=fold,
        shot=1,
        mode='train',
        pipeline=pipeline))
# test: the official 1000 episodes of the fold, replayed name for name, 4 per
# batch in order; the rest as in the training loader
test_dataloader = dict(
    train_dataloader,
    batch_size=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        mode='test',
        num_episodes=1000,
        episode_sampling='official'))
# validation during training (it picks the best checkpoint), as the
# official train.py: the same 1000 seed-0 episodes the test replays (the
# paper's model selection uses the test episodes, see configs/hsnet). A
# smaller or different set: --cfg-options
# val_dataloader.dataset.num_episodes=300 (the first 300 of them) or
# val_dataloader.dataset.episode_seed=1 (other episodes).
val_dataloader = dict(
    test_dataloader,
    dataset=dict(test_dataloader['dataset'], mode='val', episode_seed=0))
val_evaluator = dict(type='FewShotMetric')
test_evaluator = val_evaluator
