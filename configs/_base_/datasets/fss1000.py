# FSS-1000 episodes (see docs/dataset_prepare.md): 520 training, 240
# validation and 240 test categories; the official test uses every test
# image once as a query (2400 episodes). The query mask is always resized
# to 400 x 400, as the official code does.
dataset_type = 'FSS1000Dataset'
data_root = 'data/FSS-1000'
split_dir = 'splits/fss'  # relative to data_root
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
# test: every image of the 240 test categories once (num_episodes=None: 2400
# episodes), 4 per batch in order; the rest as in the training loader
test_dataloader = dict(
    train_dataloader,
    batch_size=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        mode='test',
        num_episodes=None,
        episode_sampling='official'))
# validation during training (it picks the best checkpoint), as the
# official train.py: every image of the 240 val categories once (2400
# episodes), supports drawn as the official seed-0 run. Other supports:
# --cfg-options val_dataloader.dataset.episode_seed=1. Fewer episodes
# (num_episodes=N) cover only the first N / 10 categories, and the metric
# scores the others 0.
val_dataloader = dict(
    test_dataloader,
    dataset=dict(test_dataloader['dataset'], mode='val', episode_seed=0))
val_evaluator = dict(type='FewShotMetric')
test_evaluator = val_evaluator
