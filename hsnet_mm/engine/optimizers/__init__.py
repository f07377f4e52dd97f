# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .cpu_autocast_optim_wrapper import CPUAutocastOptimWrapper

__all__ = ['CPUAutocastOptimWrapper']
