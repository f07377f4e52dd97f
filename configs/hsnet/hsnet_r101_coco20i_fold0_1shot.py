_base_ = [
    '../_base_/models/hsnet_r101.py', '../_base_/datasets/coco20i.py',
    '../_base_/schedules/hsnet_adam.py', '../_base_/default_runtime.py'
]
