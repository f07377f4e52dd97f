# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Reading a checkpoint file: CRC-32 of the zip members, refused globals
named, non-finite values found in nested states."""
import os
import pickle

import pytest
import torch

from hsnet_mm.utils.checkpoint_file import (InvalidCheckpointError,
                                            NonFiniteCheckpointError,
                                            check_finite,
                                            finite_training_state,
                                            load_checkpoint_file,
                                            nested_tensors, verify_zip_crc)


class _RunsACommand:
    """Pickles as a call of ``os.system``: only ever loaded weights_only."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


class _Custom:
    """A class of no allow-list."""


def _overwrite_middle(path, size=4096):
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + size] = bytes(range(256)) * (size // 256)
    path.write_bytes(bytes(data))


def test_overwritten_bytes_fail_the_crc_naming_the_member(tmp_path):
    path = tmp_path / 'ckpt.pth'
    torch.save(dict(a=torch.zeros(100), b=torch.zeros(20000)), path)
    verify_zip_crc(path)  # intact
    _overwrite_middle(path)
    with pytest.raises(InvalidCheckpointError) as err:
        load_checkpoint_file(path)
    assert f'{path} is corrupted: member ckpt/data/1 does not match' in str(
        err.value)
    # without the check the bytes load as (wrong) weights
    assert load_checkpoint_file(path, verify=False)['b'].abs().sum() > 0


def test_archives_without_crc_and_legacy_files_pass(tmp_path):
    no_crc, legacy = tmp_path / 'no_crc.pth', tmp_path / 'legacy.pth'
    torch.serialization.set_crc32_options(False)
    try:
        torch.save(dict(w=torch.ones(3)), no_crc)
    finally:
        torch.serialization.set_crc32_options(True)
    torch.save(
        dict(w=torch.ones(3)), legacy, _use_new_zipfile_serialization=False)
    for path in (no_crc, legacy):
        verify_zip_crc(path)
        assert load_checkpoint_file(path)['w'].sum() == 3


@pytest.mark.parametrize('form', ['zip', 'pickle'])
def test_a_blocked_global_is_named_and_never_run(tmp_path, form):
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    if form == 'zip':
        torch.save(dict(state_dict={}, x=_RunsACommand(marker)), path)
    else:
        path.write_bytes(pickle.dumps(_RunsACommand(marker), protocol=2))
    with pytest.raises(InvalidCheckpointError) as err:
        load_checkpoint_file(path)
    message = str(err.value)
    assert f'{path}: refused: it would import posix.system' in message
    assert 'not a PyTorch checkpoint' not in message
    assert '\n' not in message
    assert not marker.exists()


def test_an_unknown_class_is_named_with_the_trusted_hint(tmp_path):
    path = tmp_path / 'custom.pth'
    torch.save(dict(x=_Custom()), path)
    with pytest.raises(InvalidCheckpointError) as err:
        load_checkpoint_file(path)
    assert f'refused: it would import {__name__}._Custom' in str(err.value)
    assert 'trusted=True' in str(err.value)
    assert isinstance(load_checkpoint_file(path, trusted=True)['x'], _Custom)


def test_nested_states_are_checked_for_finite_values():
    optimizer = dict(
        state={
            0: dict(step=torch.tensor(2.), exp_avg=torch.ones(3)),
            1: dict(step=torch.tensor(2.), exp_avg=torch.tensor([1., 2.]))
        },
        param_groups=[dict(lr=1e-3, betas=(0.9, 0.999), params=[0, 1])])
    ckpt = dict(state_dict=dict(w=torch.ones(2)), optimizer=optimizer)
    assert [name for name, _ in nested_tensors(ckpt)] == [
        'state_dict.w', 'optimizer.state.0.step', 'optimizer.state.0.exp_avg',
        'optimizer.state.1.step', 'optimizer.state.1.exp_avg',
        'optimizer.param_groups.0.lr', 'optimizer.param_groups.0.betas.0',
        'optimizer.param_groups.0.betas.1'
    ]
    finite_training_state(ckpt, 'x.pth')  # no error
    optimizer['state'][1]['exp_avg'][1] = float('inf')
    optimizer['param_groups'][0]['lr'] = float('nan')
    with pytest.raises(NonFiniteCheckpointError) as err:
        finite_training_state(ckpt, 'x.pth')
    assert str(err.value).endswith(
        'in 2 tensor(s): optimizer.state.1.exp_avg (0 NaN, 1 inf of 2), '
        'optimizer.param_groups.0.lr (1 NaN, 0 inf of 1)')
    check_finite({'n': torch.tensor([1, 2])}, 'integers')  # not floating
