_base_ = './hsnet_vgg16_pascal5i_fold0_1shot.py'
test_dataloader = dict(dataset=dict(shot=5))
