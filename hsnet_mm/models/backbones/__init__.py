# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .hsnet_resnet import HSNetResNet, residual_sum_pre_relu
from .hsnet_vgg import HSNetVGG

__all__ = ['HSNetResNet', 'HSNetVGG', 'residual_sum_pre_relu']
