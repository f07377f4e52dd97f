_base_ = [
    '../_base_/models/hsnet_swin-t.py', '../_base_/datasets/pascal5i.py',
    '../_base_/schedules/hsnet_adam.py', '../_base_/default_runtime.py'
]
