# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Loading checkpoints: Runner checkpoints with mmengine, bad files named."""
import pytest
import torch
from mmengine.runner import Runner, load_checkpoint
from mmengine.utils import digit_version

from hsnet_mm.utils import load_checkpoint_file, register_safe_globals

WEIGHTS_ONLY_DEFAULT = digit_version(
    torch.__version__) >= digit_version('2.6.0')


@pytest.mark.skipif(
    not WEIGHTS_ONLY_DEFAULT, reason='torch < 2.6 loads everything')
def test_mmengine_load_and_resume(runner_ckpt, toys, tmp_path):
    register_safe_globals()
    model = toys.ToyModel()
    load_checkpoint(model, str(runner_ckpt), map_location='cpu')
    saved = load_checkpoint_file(runner_ckpt)['state_dict']
    torch.testing.assert_close(model.state_dict()['linear.weight'],
                               saved['linear.weight'])
    runner = Runner(
        **toys.toy_runner_kwargs(str(tmp_path), 3, 'ckpt_resume'),
        resume=True,
        load_from=str(runner_ckpt))
    runner.train()
    assert runner.iter == 3
    # The message hub came back: the saved lr history (iterations 1-2, more
    # when another module's fixture ran a Runner of the same name) plus 3.
    saved = load_checkpoint_file(runner_ckpt)['message_hub']['log_scalars']
    lrs = runner.message_hub.get_scalar('train/lr').data[0]
    assert len(saved['train/lr'].data[0]) >= 2
    assert len(lrs) == len(saved['train/lr'].data[0]) + 1


def test_load_checkpoint_file_errors(tmp_path):
    missing = tmp_path / 'nope.pth'
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_checkpoint_file(missing)
    text = tmp_path / 'notes.txt'
    text.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='notes.txt is not a PyTorch'):
        load_checkpoint_file(text)
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='not a PyTorch checkpoint'):
        load_checkpoint_file(empty)
    tensor = tmp_path / 'tensor.pth'
    torch.save(torch.zeros(2), tensor)
    with pytest.raises(ValueError, match='Tensor, not a checkpoint dict'):
        load_checkpoint_file(tensor)
    state = tmp_path / 'state.pth'
    torch.save({'state_dict': {'w': torch.ones(1)}}, state)
    assert load_checkpoint_file(state)['state_dict']['w'].item() == 1.0
