# COCO-20i episodes (see docs/dataset_prepare.md): the official protocol
# resizes to 400 x 400 and tests the official 1000 episodes of the fold.
_base_ = './pascal5i.py'
dataset_type = 'COCO20iDataset'
data_root = 'data/COCO2014'
split_dir = 'splits/coco'
# the official COCO batch of 40, split over the processes by tools/train.py
global_batch_size = 40
train_dataloader = dict(
    batch_size=40,
    dataset=dict(type=dataset_type, data_root=data_root, split_dir=split_dir))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split_dir=split_dir))
test_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split_dir=split_dir))
