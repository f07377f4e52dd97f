# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The pieces of the exported graphs equal the model's own."""
import pytest
import torch
import torch.nn as nn

from hsnet_mm.deploy.graphs import (ExportGroupNorm, export_friendly,
                                    flatten_levels, group_levels, level_masks)
from hsnet_mm.models.layers.correlation import resize_support_mask


@pytest.mark.parametrize('shape', [(2, 8, 5, 7), (1, 16, 4, 5, 3, 6),
                                   (2, 8, 3, 4, 5)])
@pytest.mark.parametrize('affine', [True, False])
def test_export_group_norm_equals_group_norm(shape, affine):
    torch.manual_seed(0)
    norm = nn.GroupNorm(4, shape[1], affine=affine)
    if affine:
        nn.init.normal_(norm.weight)
        nn.init.normal_(norm.bias)
    x = 3 + 5 * torch.randn(shape)
    assert torch.allclose(ExportGroupNorm(norm)(x), norm(x), atol=1e-5)


def test_export_friendly_leaves_the_model_alone(trained_tiny):
    _, model, _, _ = trained_tiny
    friendly = export_friendly(model)
    assert not any(isinstance(m, nn.GroupNorm) for m in friendly.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.modules())
    assert model.neck.mask_support and not friendly.neck.mask_support
    assert friendly.masks_support_in_graph
    assert not friendly.training


def test_levels_and_masks(trained_tiny):
    _, model, _, _ = trained_tiny
    with torch.no_grad():
        groups = model.extract_feat(torch.randn(2, 3, 64, 64))
    flat = flatten_levels(groups)
    sizes = [len(level) for level in groups]
    assert [list(level) for level in group_levels(flat, sizes)
            ] == [list(level) for level in groups]
    with pytest.raises(ValueError, match=r'expected \d+ feature maps'):
        group_levels(flat[:-1], sizes)
    masks = (torch.rand(2, 64, 64) > 0.5).float()
    for level, mask in zip(groups, level_masks(masks, groups)):
        assert torch.equal(mask, resize_support_mask(masks,
                                                     level[0].shape[-2:]))
        assert mask.shape == (2, 1, *level[0].shape[-2:])
