# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .few_shot_metric import FewShotMetric

__all__ = ['FewShotMetric']
