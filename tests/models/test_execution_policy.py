# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""One execution policy: model.impl sets every part; chunks by device."""
import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

import hsnet_mm  # noqa: F401
from hsnet_mm.models import execution_policy as policy
from tests.helpers import tiny_hsnet_cfg


def impls(model):
    """The impl of every part that has one."""
    return {
        name: m.impl
        for name, m in model.named_modules() if hasattr(m, 'impl')
    }


def test_check_impl():
    assert policy.check_impl('fast') == 'fast'
    with pytest.raises(ValueError, match="'fast', 'reference'.*'quick'"):
        policy.check_impl('quick')


@pytest.mark.parametrize('impl', ['fast', 'reference'])
def test_model_impl_reaches_every_part(impl):
    init_default_scope('mmseg')
    model = MODELS.build(dict(tiny_hsnet_cfg(), impl=impl))
    found = impls(model)
    # the model, the backbone, the neck, the encoder and its 4D convs
    assert {'', 'backbone', 'neck', 'encoder'} <= set(found)
    assert any(name.startswith('encoder.squeeze_blocks') for name in found)
    assert set(found.values()) == {impl}
    # switching at run time switches every part
    other = 'fast' if impl == 'reference' else 'reference'
    model.impl = other
    assert set(impls(model).values()) == {other}


def test_a_part_impl_that_disagrees_is_refused():
    init_default_scope('mmseg')
    cfg = tiny_hsnet_cfg()
    cfg['neck'] = dict(cfg['neck'], impl='reference')
    with pytest.raises(ValueError, match=r'model.neck.impl.*model.impl'):
        MODELS.build(cfg)
    MODELS.build(dict(cfg, impl='reference'))  # agrees: fine
    with pytest.raises(ValueError, match='impl must be one of'):
        MODELS.build(dict(tiny_hsnet_cfg(), impl='slow'))


def test_switched_model_equals_a_model_built_reference():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    built = MODELS.build(dict(tiny_hsnet_cfg(), impl='reference')).eval()
    switched = MODELS.build(tiny_hsnet_cfg()).eval()
    switched.load_state_dict(built.state_dict())
    switched.impl = 'reference'
    torch.manual_seed(1)
    inputs = dict(
        query_img=torch.randn(1, 3, 40, 48),
        support_imgs=torch.randn(1, 2, 3, 40, 48),
        support_masks=(torch.rand(1, 2, 40, 48) > 0.5).float())
    with torch.no_grad():
        assert torch.equal(
            switched.encode_decode(inputs), built.encode_decode(inputs))


def test_pair_chunk_size_by_policy_and_device():
    cpu, meta = torch.device('cpu'), torch.device('meta')
    per_pair = policy.CPU_CHUNK_BYTES // 3
    assert policy.pair_chunk_size('fast', None, per_pair, 10, cpu) == 3
    assert policy.pair_chunk_size('fast', None, per_pair, 2, cpu) == 2
    assert policy.pair_chunk_size('fast', None, 10**12, 10, cpu) == 1
    assert policy.pair_chunk_size('fast', None, per_pair, 10, meta) == 10
    assert policy.pair_chunk_size('fast', 4, per_pair, 10, cpu) == 4
    # the reference overrides every choice: all pairs at once
    assert policy.pair_chunk_size('reference', 4, per_pair, 10, cpu) == 10
    assert policy.fold_bn('fast', cpu) and not policy.fold_bn('reference', cpu)
    assert policy.channels_last('fast', cpu)
    assert not policy.channels_last('reference', cpu)


def test_reference_backbone_runs_unfolded_nchw():
    from hsnet_mm.models.backbones import HSNetResNet
    backbone = HSNetResNet(18, impl='reference').eval()
    feats = backbone(torch.randn(1, 3, 32, 32))
    assert all(f.is_contiguous() for level in feats for f in level)
    assert not backbone._folded._cache  # conv then BN: nothing folded
    backbone.impl = 'fast'
    feats = backbone(torch.randn(1, 3, 32, 32))
    assert feats[0][0].is_contiguous(memory_format=torch.channels_last)
    assert backbone._folded._cache


def test_device_defaults():
    """CPU: the measured fast choices; CUDA: the safest until measured."""
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    assert policy.channels_last('fast', cpu)
    assert not policy.channels_last('fast', cuda)
    assert policy.sparse_correlation('fast', cpu)
    assert not policy.sparse_correlation('fast', cuda)
    assert not policy.sparse_correlation('reference', cpu)
    assert policy.fold_bn('fast', cuda)


def test_set_impl_leaves_unrelated_impl_attributes_alone():
    model = torch.nn.Sequential(torch.nn.Linear(1, 1))
    model[0].impl = 'cutlass'  # a third-party module's own attribute
    model.impl = 'fast'
    policy.set_impl(model, 'reference')
    assert model.impl == 'reference' and model[0].impl == 'cutlass'
    # a chunk never exceeds the pairs there are (the memory check counts it)
    assert policy.pair_chunk_size('fast', 64, 1, 3, torch.device('cpu')) == 3
