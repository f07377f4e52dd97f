# FSS-1000 episodes (see docs/dataset_prepare.md): 520 training, 240
# validation and 240 test categories; the official test uses every test
# image once as a query (2400 episodes). The query mask is always resized
# to 400 x 400, as the official code does.
_base_ = './pascal5i.py'
dataset_type = 'FSS1000Dataset'
data_root = 'data/FSS-1000'
split_dir = 'splits/fss'
# the official batch of 20 (global_batch_size, from pascal5i.py)
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split_dir=split_dir))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split_dir=split_dir))
test_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split_dir=split_dir,
        num_episodes=None))  # every test image once: 2400
