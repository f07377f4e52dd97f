_base_ = './hsnet_r50_coco20i_fold0_1shot.py'
train_dataloader = dict(dataset=dict(fold=3))
val_dataloader = dict(dataset=dict(fold=3))
test_dataloader = dict(dataset=dict(fold=3, shot=5))
