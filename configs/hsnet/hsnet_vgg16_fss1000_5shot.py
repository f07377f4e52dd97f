_base_ = './hsnet_vgg16_fss1000_1shot.py'
test_dataloader = dict(dataset=dict(shot=5))
