# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""NonFiniteLossHook: the first NaN/inf loss stops training, named."""
from types import SimpleNamespace

import pytest
import torch

from hsnet_mm.engine import NonFiniteLossHook


def _runner(it=4, epoch=0):
    return SimpleNamespace(iter=it, epoch=epoch)


@pytest.mark.parametrize('bad', [float('nan'), float('inf'), -float('inf')])
def test_raises_naming_the_iteration_and_terms(bad):
    hook = NonFiniteLossHook()
    outputs = dict(
        loss=torch.tensor(bad),
        loss_ce=torch.tensor(bad),
        acc=torch.tensor(float('nan')))  # not a loss: not checked
    with pytest.raises(FloatingPointError) as err:
        hook.after_train_iter(_runner(it=6, epoch=1), 0, None, outputs)
    message = str(err.value)
    assert f'at epoch 2, iteration 7 (loss={bad}, loss_ce={bad})' in message
    assert 'acc' not in message and 'check_loss.enabled=False' in message


def test_finite_losses_pass_and_switches():
    hook = NonFiniteLossHook()
    hook.after_train_iter(_runner(), 0, None, dict(loss=torch.tensor(0.3)))
    hook.after_train_iter(_runner(), 0, None, None)
    nan = dict(loss=torch.tensor(float('nan')))
    NonFiniteLossHook(enabled=False).after_train_iter(_runner(), 0, None, nan)
    # interval 2: iteration 5 (iter=4) is not checked, 6 is
    NonFiniteLossHook(interval=2).after_train_iter(_runner(4), 0, None, nan)
    with pytest.raises(FloatingPointError):
        NonFiniteLossHook(interval=2).after_train_iter(
            _runner(5), 0, None, nan)
    with pytest.raises(ValueError, match='positive int'):
        NonFiniteLossHook(interval=0)
