_base_ = './hsnet_mit-b2_pascal5i_fold0_1shot.py'
# trained and validated 1-shot, tested 5-shot (see configs/hsnet/README.md)
test_dataloader = dict(dataset=dict(shot=5))
