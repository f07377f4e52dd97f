# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""bfloat16 autocast training on the CPU (``tools/train.py --amp``)."""
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under CPU autocast (bfloat16).

    mmengine's ``AmpOptimWrapper`` asserts a CUDA (or NPU/MLU/MUSA) device.
    On a CPU-only machine ``tools/train.py --amp`` uses this wrapper instead:
    the loss is computed under ``torch.autocast('cpu', dtype=bfloat16)``,
    gradients and the optimizer step stay in float32. bfloat16 has float32's
    exponent range, so no loss scaling is needed; its state dict is the one
    of ``OptimWrapper``, so runs resume with or without ``--amp``.

    On CPUs without native bfloat16 instructions (no AVX512-BF16 / AMX)
    this saves activation memory rather than time.

    Args:
        dtype (str): Autocast dtype, 'bfloat16' (the only one CPU autocast
            supports for every op). Defaults to 'bfloat16'.
        **kwargs: Arguments of :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, *args, dtype: str = 'bfloat16', **kwargs) -> None:
        if dtype != 'bfloat16':
            raise ValueError(
                f"CPUAutocastOptimWrapper supports dtype='bfloat16', got "
                f'{dtype!r}')
        super().__init__(*args, **kwargs)
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """Gradient-accumulation context plus CPU bfloat16 autocast."""
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=self.cast_dtype):
            yield
