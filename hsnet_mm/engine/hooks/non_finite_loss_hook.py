# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Stop training at the first NaN or infinite loss."""
import math
from typing import Optional, Sequence, Union

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise ``FloatingPointError`` when a training loss is NaN or inf.

    A diverged run (a NaN in the weights or the optimizer state, a bad
    batch) otherwise logs ``loss: nan`` to the end, exits with 0 and saves
    NaN checkpoints. This hook checks every ``loss*`` value that
    ``train_step`` returns and stops training at the first non-finite one,
    naming the iteration and the terms, before the epoch's checkpoint is
    saved. mmengine has no such hook (mmdet's ``CheckInvalidLossHook`` has
    the idea, but fails with an empty ``AssertionError``).

    Turn it off with ``default_hooks.check_loss.enabled=False`` (e.g. in
    ``--cfg-options``; mmengine allows ``None`` only for its own hooks).

    Args:
        interval (int): Check every ``interval`` iterations. The loss values
            are already read on the CPU for logging each iteration, so 1
            costs nothing. Defaults to 1.
        enabled (bool): Check at all. Defaults to True.
    """
    priority = 'VERY_HIGH'

    def __init__(self, interval: int = 1, enabled: bool = True) -> None:
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'interval must be a positive int, got '
                             f'{interval!r}')
        self.interval, self.enabled = interval, enabled

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Check the loss values of this iteration."""
        if not (self.enabled and outputs
                and self.every_n_train_iters(runner, self.interval)):
            return
        values = {
            k: float(v)
            for k, v in outputs.items()
            if 'loss' in k and not isinstance(v, (str, Sequence))
        }
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            return
        terms = ', '.join(f'{k}={v}' for k, v in values.items())
        raise FloatingPointError(
            f'non-finite training loss at epoch {runner.epoch + 1}, iteration '
            f'{runner.iter + 1} ({terms}): training stopped, the checkpoints '
            'saved so far are kept. Lower the learning rate, clip gradients '
            '(optim_wrapper.clip_grad) or check the data and the resumed '
            'checkpoint; default_hooks.check_loss.enabled=False turns this '
            'check off.')
