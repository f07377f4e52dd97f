# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch

from hsnet_mm.structures import (EPISODE_INPUT_KEYS, check_episode_tensors,
                                 stack_episode_inputs)


def test_stack_episode_inputs():
    inputs = dict(
        query_img=[torch.zeros(3, 8, 8)] * 2,
        support_imgs=[torch.zeros(2, 3, 8, 8)] * 2,
        support_masks=[torch.zeros(2, 8, 8)] * 2)
    out = stack_episode_inputs(inputs)
    assert tuple(out) == EPISODE_INPUT_KEYS
    assert out['support_imgs'].shape == (2, 2, 3, 8, 8)
    assert stack_episode_inputs(out)['query_img'] is out['query_img']
    with pytest.raises(KeyError, match='support_masks'):
        stack_episode_inputs(dict(query_img=[], support_imgs=[]))
    inputs['support_imgs'] = [torch.zeros(2, 3, 8, 8), torch.zeros(1, 3, 8, 8)]
    with pytest.raises(ValueError, match="'support_imgs'"):
        stack_episode_inputs(inputs)


def test_check_episode_tensors_converts_masks():
    q, s = torch.zeros(1, 3, 4, 4), torch.zeros(1, 2, 3, 4, 4)
    for mask in (torch.ones(1, 2, 4, 4, dtype=torch.bool),
                 torch.ones(1, 2, 4, 4, dtype=torch.uint8)):
        out = check_episode_tensors(q, s, mask)
        assert out.dtype == torch.float32 and out.sum() == 32


@pytest.mark.parametrize('q,s,m,match', [
    ((1, 3, 4, 4), (1, 2, 3, 4, 4), (1, 3, 4, 4), 'shot counts differ'),
    ((1, 3, 4, 4), (1, 2, 3, 4, 4), (1, 2, 4, 5), 'same spatial size'),
    ((1, 3, 4, 4), (2, 2, 3, 4, 4), (2, 2, 4, 4), 'batch sizes differ'),
    ((3, 4, 4), (1, 2, 3, 4, 4), (1, 2, 4, 4), r'\(B, 3, H, W\)'),
    ((1, 3, 4, 4), (1, 0, 3, 4, 4), (1, 0, 4, 4), 'at least one support'),
    ((1, 1, 4, 4), (1, 2, 3, 4, 4), (1, 2, 4, 4), 'must be RGB'),
])
def test_check_episode_tensors_errors(q, s, m, match):
    with pytest.raises(ValueError, match=match):
        check_episode_tensors(torch.zeros(q), torch.zeros(s), torch.zeros(m))
    with pytest.raises(ValueError, match='only 0 and 1'):
        check_episode_tensors(
            torch.zeros(1, 3, 4, 4), torch.zeros(1, 1, 3, 4, 4),
            torch.full((1, 1, 4, 4), 0.5))
