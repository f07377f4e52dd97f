_base_ = './hsnet_r50_pascal5i_fold0_1shot.py'
train_dataloader = dict(dataset=dict(fold=1))
val_dataloader = dict(dataset=dict(fold=1))
test_dataloader = dict(dataset=dict(fold=1, shot=5))
