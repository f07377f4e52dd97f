_base_ = './hsnet_r50_coco20i_fold0_1shot.py'
test_dataloader = dict(dataset=dict(shot=5))
