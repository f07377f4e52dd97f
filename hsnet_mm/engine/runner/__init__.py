# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .multi_seed_test_loop import MultiSeedTestLoop

__all__ = ['MultiSeedTestLoop']
