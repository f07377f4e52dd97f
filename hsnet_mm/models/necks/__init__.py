# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .hypercorrelation_neck import HypercorrelationNeck

__all__ = ['HypercorrelationNeck']
