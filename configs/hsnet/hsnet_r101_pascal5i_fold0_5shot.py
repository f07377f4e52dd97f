_base_ = './hsnet_r101_pascal5i_fold0_1shot.py'
val_dataloader = dict(dataset=dict(shot=5))
test_dataloader = dict(dataset=dict(shot=5))
