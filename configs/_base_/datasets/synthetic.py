# The file-free synthetic benchmark (SyntheticFewShotDataset): 48 classes
# (colour family x shape x texture), 12 held out per fold, cluttered
# backgrounds and distractor objects of other classes, so the model must read
# the support to know what to segment. Rendered in memory from a seed.
dataset_type = 'SyntheticFewShotDataset'
img_size = 96
fold = 0
pipeline = [
    dict(type='LoadEpisode'),
    dict(type='ResizeEpisode', scale=(img_size, img_size)),
    dict(type='PackEpisodeInputs'),
]
common = dict(
    type=dataset_type, img_size=img_size, images_per_class=50, fold=fold)
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='EpisodicSampler', shuffle=True),
    dataset=dict(**common, shot=1, mode='train', pipeline=pipeline))
# val and test see the fold's unseen classes; the test renders the usual
# images, validation (which picks the best checkpoint) its own (seed=1)
test_dataloader = dict(
    train_dataloader,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        mode='test',
        num_episodes=300,
        episode_seed=0))
val_dataloader = dict(
    test_dataloader,
    dataset=dict(
        test_dataloader['dataset'],
        seed=1,
        mode='val',
        num_episodes=120,
        episode_seed=1))
val_evaluator = dict(type='FewShotMetric')
test_evaluator = val_evaluator
