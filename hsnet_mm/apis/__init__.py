# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .inference import init_model

__all__ = ['init_model']
