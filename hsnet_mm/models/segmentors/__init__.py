# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .hsnet import HSNet

__all__ = ['HSNet']
