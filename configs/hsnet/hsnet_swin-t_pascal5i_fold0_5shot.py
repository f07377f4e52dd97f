_base_ = './hsnet_swin-t_pascal5i_fold0_1shot.py'
# trained 1-shot, tested 5-shot with the same weights (see the R50 5-shot)
val_dataloader = dict(dataset=dict(shot=5))
test_dataloader = dict(dataset=dict(shot=5))
