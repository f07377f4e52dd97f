# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The allow-list that lets Runner checkpoints load with weights_only."""
import pickle

import pytest
import torch

from hsnet_mm.utils import (load_checkpoint_file, register_safe_globals,
                            safe_globals)


@pytest.fixture
def clean_safe_globals(monkeypatch):
    """No allow-listed globals during the test; restored afterwards."""
    if not hasattr(torch.serialization, 'add_safe_globals'):
        pytest.skip('torch < 2.4 has no add_safe_globals')
    saved = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()
    monkeypatch.setattr(safe_globals, '_registered', False)
    yield
    torch.serialization.clear_safe_globals()
    torch.serialization.add_safe_globals(saved)


def test_weights_only_load_needs_registration(runner_ckpt, clean_safe_globals):
    with pytest.raises(pickle.UnpicklingError, match='Unsupported global'):
        torch.load(runner_ckpt, weights_only=True)
    assert register_safe_globals() is True
    assert register_safe_globals() is True  # idempotent
    ckpt = torch.load(runner_ckpt, weights_only=True)
    assert set(ckpt) >= {'meta', 'state_dict', 'message_hub', 'optimizer'}
    buffer = ckpt['message_hub']['log_scalars']['train/lr']
    assert buffer.mean() == pytest.approx(0.01)  # statistics methods work
    assert ckpt['meta']['dataset_meta']['fold_class_ids'] == range(1)


def test_restricted_getattr_refuses_other_attributes(tmp_path,
                                                     clean_safe_globals):
    register_safe_globals()

    class Sneaky:

        def __reduce__(self):
            return getattr, (torch.Tensor, 'tolist')

    path = tmp_path / 'sneaky.pth'
    torch.save({'x': Sneaky()}, path)
    with pytest.raises(ValueError, match='refusing getattr'):
        load_checkpoint_file(path)
