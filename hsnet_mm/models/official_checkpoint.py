# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Map official HSNet checkpoints (juhongm999/hsnet) onto our key layout.

Official key -> ours:

- ``module.`` prefix (DataParallel) stripped;
- ``backbone.*`` unchanged (torchvision layout), except ``backbone.fc.*``
  (ResNet) and ``backbone.classifier.*`` (VGG), which HSNet never uses and
  which are dropped;
- ``hpn_learner.encoder_layer{4,3,2}.*`` ->
  ``encoder.squeeze_blocks.{0,1,2}.*`` (deepest level first);
- ``hpn_learner.encoder_layer{4to3,3to2}.*`` -> ``encoder.mix_blocks.{0,1}.*``;
- ``hpn_learner.decoder1.*`` -> ``decode_head.decoder1.*``;
- ``hpn_learner.decoder2.0.*`` -> ``decode_head.decoder2.0.*`` and
  ``hpn_learner.decoder2.2.*`` (the last 64 -> 2 conv) ->
  ``decode_head.conv_seg.*``.
"""
import re
from collections import OrderedDict
from typing import List, Mapping, Optional, Tuple

import torch

from ..utils import check_state_dict

#: Official prefixes of unused backbone heads, dropped by name.
UNUSED_OFFICIAL_PREFIXES = ('backbone.fc.', 'backbone.classifier.')

_LEARNER_RULES = [
    (r'^hpn_learner\.encoder_layer4\.', 'encoder.squeeze_blocks.0.'),
    (r'^hpn_learner\.encoder_layer3\.', 'encoder.squeeze_blocks.1.'),
    (r'^hpn_learner\.encoder_layer2\.', 'encoder.squeeze_blocks.2.'),
    (r'^hpn_learner\.encoder_layer4to3\.', 'encoder.mix_blocks.0.'),
    (r'^hpn_learner\.encoder_layer3to2\.', 'encoder.mix_blocks.1.'),
    (r'^hpn_learner\.decoder1\.', 'decode_head.decoder1.'),
    (r'^hpn_learner\.decoder2\.0\.', 'decode_head.decoder2.0.'),
    (r'^hpn_learner\.decoder2\.2\.', 'decode_head.conv_seg.'),
]


def official_to_ours(key: str) -> Optional[str]:
    """Our name of an official key; None for a key dropped by name.

    Raises:
        KeyError: ``key`` is not a key of the official HSNet.
    """
    if key.startswith('module.'):
        key = key[len('module.'):]
    if key.startswith(UNUSED_OFFICIAL_PREFIXES):
        return None
    if key.startswith('backbone.'):
        return key
    for pattern, repl in _LEARNER_RULES:
        # the '.' after the level number keeps layer4 from matching 4to3
        if re.match(pattern, key):
            return re.sub(pattern, repl, key)
    raise KeyError(f'{key!r} is not a key of the official HSNet')


def convert_official_state_dict(
    state_dict: Mapping[str, torch.Tensor],
    expected: Optional[Mapping[str, Tuple[int, ...]]] = None
) -> Tuple['OrderedDict[str, torch.Tensor]', List[str]]:
    """Convert an official HSNet state dict to ours, floats as fp32.

    Args:
        state_dict (Mapping[str, Tensor]): official keys, with or without
            the ``module.`` prefix, fp16 or fp32.
        expected (Mapping[str, tuple], optional): our model's key -> shape
            (:func:`~hsnet_mm.utils.state_dict_shapes`); when given,
            missing keys, unexpected keys and shape mismatches are refused
            (e.g. a ResNet-101 checkpoint for a ResNet-50 model).

    Returns:
        tuple: the converted state dict and the official keys dropped by
        name (unused classifier heads).

    Raises:
        KeyError: unknown official keys.
        CheckpointMismatchError: the result does not fit ``expected``
            (a ``ValueError``).
    """
    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    dropped, unknown = [], []
    for key, value in state_dict.items():
        try:
            new_key = official_to_ours(key)
        except KeyError:
            unknown.append(key)
            continue
        if new_key is None:
            dropped.append(key)
            continue
        if not isinstance(value, torch.Tensor):
            raise ValueError(f'{key!r} holds a {type(value).__name__}, not a '
                             'tensor')
        converted[new_key] = value.float() if value.is_floating_point(
        ) else value.clone()
    if unknown:
        raise KeyError(f'{len(unknown)} keys are not official HSNet keys, '
                       f'e.g. {unknown[:5]}')
    if expected is not None:
        check_state_dict(
            expected,
            converted,
            'the converted official checkpoint',
            hint='(wrong --backbone? The official key layouts of VGG16, '
            'ResNet-50 and ResNet-101 differ.)')
    return converted, dropped
