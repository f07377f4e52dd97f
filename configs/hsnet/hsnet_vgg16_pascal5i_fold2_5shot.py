_base_ = './hsnet_vgg16_pascal5i_fold0_1shot.py'
train_dataloader = dict(dataset=dict(fold=2))
val_dataloader = dict(dataset=dict(fold=2))
test_dataloader = dict(dataset=dict(fold=2, shot=5))
