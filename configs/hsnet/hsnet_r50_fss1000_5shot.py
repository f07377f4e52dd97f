_base_ = './hsnet_r50_fss1000_1shot.py'
test_dataloader = dict(dataset=dict(shot=5))
