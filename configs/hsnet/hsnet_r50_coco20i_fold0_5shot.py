_base_ = './hsnet_r50_coco20i_fold0_1shot.py'
val_dataloader = dict(dataset=dict(shot=5))
test_dataloader = dict(dataset=dict(shot=5))
