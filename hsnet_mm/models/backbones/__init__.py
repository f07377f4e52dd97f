# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .feature_tap_backbone import FeatureTapBackbone
from .hsnet_resnet import HSNetResNet, residual_sum_pre_relu
from .hsnet_vgg import HSNetVGG

__all__ = [
    'FeatureTapBackbone', 'HSNetResNet', 'HSNetVGG', 'residual_sum_pre_relu'
]
