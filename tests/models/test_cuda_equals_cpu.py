# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""CUDA against the CPU run of the same weights (where the official fixture
is absent, e.g. on a GPU machine without ../shared)."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import hsnet_mm  # noqa: F401
from hsnet_mm.models.segmentors import vote_kshot
from tests.helpers import tiny_hsnet_cfg


@pytest.mark.parametrize('impl', ['fast', 'reference'])
@pytest.mark.parametrize('k', [1, 3])
def test_same_logits_and_votes_on_every_device(device, impl, k):
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(dict(tiny_hsnet_cfg(), impl=impl)).eval()
    torch.manual_seed(1)
    inputs = dict(
        query_img=torch.randn(2, 3, 96, 80),
        support_imgs=torch.randn(2, k, 3, 96, 80),
        support_masks=torch.zeros(2, k, 96, 80))
    inputs['support_masks'][..., 20:70, 10:60] = 1
    with torch.no_grad():
        cpu = model.encode_decode(inputs)
        on_device = model.to(device).encode_decode({
            key: v.to(device)
            for key, v in inputs.items()
        }).cpu()
    torch.testing.assert_close(on_device, cpu, rtol=0, atol=1e-4)
    margin = (cpu[:, :, 1] - cpu[:, :, 0]).abs().min(dim=1)[0]
    decided = margin > 1e-4
    assert torch.equal(
        vote_kshot(on_device)[decided],
        vote_kshot(cpu)[decided])
