# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
from .context_decode_head import ContextDecodeHead

__all__ = ['ContextDecodeHead']
