# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Key layouts: every config maps one-to-one onto the official keys."""
import json

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import hsnet_mm  # noqa: F401
from hsnet_mm.models.official_checkpoint import (convert_official_state_dict,
                                                 official_to_ours)
from hsnet_mm.utils import state_dict_shapes
from tests.helpers import REPO_ROOT, require_reference

CASES = [('vgg16', 'vgg16', 2570018), ('resnet50', 'r50', 2573794),
         ('resnet101', 'r101', 2587394)]


def build(short):
    init_default_scope('mmseg')
    cfg = Config.fromfile(
        REPO_ROOT / f'configs/hsnet/hsnet_{short}_pascal5i_fold0_1shot.py')
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('backbone,short,learner_params', CASES)
def test_key_layout_and_param_count(backbone, short, learner_params):
    official = json.loads(
        require_reference(f'keys_{backbone}.json').read_text())
    model = build(short)
    ours = state_dict_shapes(model)
    mapped = {}
    for key, shape in official:
        new = official_to_ours(key)
        if new is not None:
            assert new not in mapped, f'{key} maps onto a taken key'
            mapped[new] = tuple(shape)
    assert mapped == ours
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == learner_params
    # converting a state dict of the official layout round-trips
    fake = {
        f'module.{k}': torch.zeros(s, dtype=torch.float16)
        for k, s in official
    }
    state, dropped = convert_official_state_dict(fake, ours)
    assert all(v.dtype == torch.float32 for v in state.values()
               if v.is_floating_point())
    unused = ('module.backbone.fc.', 'module.backbone.classifier.')
    assert dropped and all(k.startswith(unused) for k in dropped)
    model.load_state_dict(state, strict=True)


def test_wrong_backbone_and_unknown_keys():
    official = json.loads(require_reference('keys_resnet101.json').read_text())
    fake = {k: torch.zeros(s) for k, s in official}
    ours = state_dict_shapes(build('r50'))
    with pytest.raises(ValueError, match='wrong --backbone'):
        convert_official_state_dict(fake, ours)
    with pytest.raises(KeyError, match='not official HSNet keys'):
        convert_official_state_dict({'head.weight': torch.zeros(1)})
