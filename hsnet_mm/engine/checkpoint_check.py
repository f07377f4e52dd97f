# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Refuse a checkpoint that does not fit the model, before a run starts.

``Runner.load_checkpoint`` loads non-strictly: missing, unexpected and
mis-shaped weights only produce a warning, and a test run would then score a
partly random model. ``tools/test.py`` calls :func:`check_checkpoint` first,
so a wrong checkpoint fails with the list of differences and nothing written.
"""
import re
from typing import Dict, List, Mapping, Tuple

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from hsnet_mm.utils import load_checkpoint_file, register_safe_globals

#: How many keys of each kind an error message lists.
MAX_LISTED = 8


class CheckpointMismatchError(ValueError):
    """The checkpoint's weights do not match the model built from a config."""


#: mmengine's ``CheckpointLoader`` prefixes that are not local paths.
REMOTE_PREFIXES = ('open-mmlab:', 'openmmlab:', 'mmcls:', 'mmpretrain:',
                   'torchvision:', 'modelzoo:')


def _is_remote(filename: str) -> bool:
    """URLs and mmengine's model-zoo prefixes, not local paths."""
    return '://' in filename or filename.startswith(REMOTE_PREFIXES)


def load_state_dict(filename: str) -> Dict[str, torch.Tensor]:
    """Read the model weights of a checkpoint onto the CPU.

    Accepts a Runner checkpoint (``state_dict`` key) or a bare state dict;
    strips DataParallel's ``module.`` prefix as the Runner does.

    Args:
        filename (str): Local path, or a URL / mmengine scheme.

    Returns:
        dict[str, Tensor]: Name to tensor.

    Raises:
        FileNotFoundError: a local checkpoint does not exist.
        ValueError: the file is no checkpoint or holds no state dict.
    """
    if _is_remote(filename):
        from mmengine.runner.checkpoint import _load_checkpoint
        register_safe_globals()
        ckpt = _load_checkpoint(filename, map_location='cpu')
    else:
        ckpt = load_checkpoint_file(filename)
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, Mapping) or not any(
            isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f'{filename} holds no state dict (a mapping of '
                         'names to tensors, or one under "state_dict")')
    return {
        re.sub(r'^module\.', '', k): v
        for k, v in state.items() if isinstance(v, torch.Tensor)
    }


def _listed(keys: List[str]) -> str:
    more = len(keys) - MAX_LISTED
    shown = ', '.join(keys[:MAX_LISTED])
    return shown + (f', ... ({more} more)' if more > 0 else '')


def compare_state_dicts(expected: Mapping[str, Tuple[int, ...]],
                        state: Mapping[str, torch.Tensor]) -> List[str]:
    """Differences between a model's key -> shape map and a state dict.

    Args:
        expected (Mapping[str, tuple]): The model's state-dict shapes.
        state (Mapping[str, Tensor]): The checkpoint's weights.

    Returns:
        list[str]: One line per kind of difference; empty when they match.
    """
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = sorted(
        f'{k} (checkpoint {tuple(state[k].shape)}, model {expected[k]})'
        for k in set(expected) & set(state)
        if tuple(state[k].shape) != tuple(expected[k]))
    lines = []
    if missing:
        lines.append(f'{len(missing)} missing key(s): {_listed(missing)}')
    if unexpected:
        lines.append(f'{len(unexpected)} unexpected key(s): '
                     f'{_listed(unexpected)}')
    if shapes:
        lines.append(f'{len(shapes)} shape mismatch(es): {_listed(shapes)}')
    return lines


def check_checkpoint(cfg: Config, filename: str) -> None:
    """Check that ``filename`` loads strictly into ``cfg.model``.

    The model is built from the config (no weights initialised or
    downloaded) only to read its state-dict keys and shapes.

    Args:
        cfg (Config): The run's config (``model``, ``default_scope``).
        filename (str): The checkpoint.

    Raises:
        FileNotFoundError: the checkpoint does not exist.
        ValueError: it is no checkpoint.
        CheckpointMismatchError: its weights do not match the model.
    """
    state = load_state_dict(filename)
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmseg')):
        model = MODELS.build(cfg.model)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    del model
    problems = compare_state_dicts(expected, state)
    if problems:
        hint = ''
        if any(k.startswith('hpn_learner.') for k in state):
            hint = ('\nThis looks like an official HSNet checkpoint: '
                    'convert it with tools/model_converters/hsnet2mmseg.py.')
        raise CheckpointMismatchError(
            f'checkpoint {filename} does not match the model of the config:'
            '\n  ' + '\n  '.join(problems) + hint)
