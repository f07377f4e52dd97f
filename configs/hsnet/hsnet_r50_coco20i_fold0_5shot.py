_base_ = './hsnet_r50_coco20i_fold0_1shot.py'
# HSNet trains 1-shot and tests K-shot with the same weights: test this
# config with the 1-shot run's checkpoint (or train with it: training
# stays 1-shot, validation and test vote over 5 shots).
val_dataloader = dict(dataset=dict(shot=5))
test_dataloader = dict(dataset=dict(shot=5))
