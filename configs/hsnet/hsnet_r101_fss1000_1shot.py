_base_ = [
    '../_base_/models/hsnet_r101.py', '../_base_/datasets/fss1000.py',
    '../_base_/schedules/hsnet_adam.py', '../_base_/default_runtime.py'
]
