# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import hsnet_mm  # noqa: F401
from hsnet_mm.models.layers import vote_kshot
from tests.helpers import tiny_hsnet_cfg


@pytest.fixture
def model():
    init_default_scope('mmseg')
    torch.manual_seed(0)
    return MODELS.build(tiny_hsnet_cfg()).eval()


def logits_of(model, q, s, m):
    """The tensor-level API: per-shot logits (B, K, 2, H, W)."""
    return model.encode_decode(
        dict(query_img=q, support_imgs=s, support_masks=m))


def episode(b=2, k=1, h=64, w=64):
    return (torch.randn(b, 3, h, w), torch.randn(b, k, 3, h,
                                                 w), (torch.rand(b, k, h, w)
                                                      > 0.5).float())


def packed_batch(b=2, k=2, h=64, w=64, gt_size=None):
    inputs = dict(
        query_img=[torch.randint(0, 256, (3, h, w), dtype=torch.uint8)] * b,
        support_imgs=[torch.randint(0, 256,
                                    (k, 3, h, w), dtype=torch.uint8)] * b,
        support_masks=[torch.randint(0, 2, (k, h, w), dtype=torch.uint8)] * b)
    samples = []
    gh, gw = gt_size or (h, w)
    for i in range(b):
        ds = SegDataSample(
            metainfo=dict(
                class_id=i, img_shape=(h, w), ori_shape=(gh, gw), shot=k))
        ds.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, gh, gw)))
        samples.append(ds)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('b,k,h,w', [(1, 1, 64, 64), (2, 3, 64, 64),
                                     (1, 2, 64, 96), (2, 1, 96, 64)])
def test_per_shot_logits_and_prediction(model, b, k, h, w):
    q, s, m = episode(b, k, h, w)
    with torch.no_grad():
        logits = logits_of(model, q, s, m)
    pred = vote_kshot(logits)
    assert logits.shape == (b, k, 2, h, w)
    assert pred.shape == (b, h, w) and pred.dtype == torch.int64
    # every shot j equals a 1-shot run with support j alone (catches a
    # shot-major tiling of the query features)
    for j in range(k):
        with torch.no_grad():
            one = logits_of(model, q, s[:, j:j + 1], m[:, j:j + 1])
        torch.testing.assert_close(
            logits[:, j:j + 1], one, atol=1e-5, rtol=1e-5)


def test_changing_sizes_and_mask_dtypes(model):
    q, s, m = episode(1, 1, 64, 64)
    ref = logits_of(model, q, s, m)
    logits_of(model, *episode(1, 1, 96, 80))
    for masks in (m.bool(), m.long(), m.to(torch.uint8)):
        torch.testing.assert_close(logits_of(model, q, s, masks), ref)


def test_gradients_reach_learner_not_backbone():
    init_default_scope('mmseg')
    model = MODELS.build(tiny_hsnet_cfg()).train()
    batch = model.data_preprocessor(packed_batch(), True)
    losses = model(**batch, mode='loss')
    assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
    losses['decode.loss_ce'].backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert all(p.grad is not None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.decode_head.parameters())
    assert not model.backbone.training  # frozen BN stays in eval


def test_kshot_loss_is_mean_of_shot_losses():
    init_default_scope('mmseg')
    torch.manual_seed(1)
    model = MODELS.build(tiny_hsnet_cfg()).eval()
    batch = model.data_preprocessor(packed_batch(b=1, k=2), False)
    inputs, samples = batch['inputs'], batch['data_samples']
    total = model.loss(inputs, samples)['decode.loss_ce']
    per_shot = []
    for i in range(2):
        one = dict(inputs)
        one['support_imgs'] = inputs['support_imgs'][:, i:i + 1]
        one['support_masks'] = inputs['support_masks'][:, i:i + 1]
        per_shot.append(model.loss(one, samples)['decode.loss_ce'])
    torch.testing.assert_close(total, sum(per_shot) / 2)


def test_predict_mode_and_output_sizes():
    init_default_scope('mmseg')
    model = MODELS.build(tiny_hsnet_cfg()).eval()
    batch = model.data_preprocessor(packed_batch(b=2, k=3), False)
    out = model(**batch, mode='predict')
    assert out[0].pred_sem_seg.shape == (64, 64)
    assert out[0].seg_logits.data.shape == (2, 64, 64)
    assert out[0].shot_pred_sem_seg.data.shape == (3, 64, 64)
    tensor = model(**batch, mode='tensor')
    assert tensor.shape == (2, 3, 2, 64, 64)
    # the official vote on the tensor-mode logits gives the prediction
    assert torch.equal(out[1].pred_sem_seg.data[0], vote_kshot(tensor)[1])
    assert torch.equal(out[1].shot_pred_sem_seg.data, tensor[1].argmax(1))
    torch.testing.assert_close(out[1].seg_logits.data, tensor[1].mean(0))

    # the original-size protocol: the ground truth kept at its original
    # size makes the prediction at that size (one switch, in the pipeline)
    batch = model.data_preprocessor(
        packed_batch(b=2, k=1, gt_size=(50, 70)), False)
    out = model(**batch, mode='predict')
    assert out[0].pred_sem_seg.shape == (50, 70)
    assert out[0].seg_logits.shape == (50, 70)
    # K = 1: the prediction is the argmax of seg_logits, as in mmseg
    assert torch.equal(out[0].pred_sem_seg.data[0],
                       out[0].seg_logits.data.argmax(0))
    # without a ground truth the prediction is at ori_shape
    for ds in batch['data_samples']:
        del ds.gt_sem_seg
        ds.set_metainfo(dict(ori_shape=(40, 30)))
    out = model.predict(batch['inputs'], batch['data_samples'])
    assert out[1].pred_sem_seg.shape == (40, 30)


def test_bad_episodes(model):
    q, s, m = episode(2, 2)
    with pytest.raises(ValueError, match='shot counts differ'):
        logits_of(model, q, s, m[:, :1])
    with pytest.raises(ValueError, match='only 0 and 1'):
        logits_of(model, q, s, m * 255)
    with pytest.raises(ValueError, match='same spatial size'):
        logits_of(model, q[..., :32], s, m)
    with pytest.raises(ValueError, match=r'\(B, K, 3, H, W\)'):
        logits_of(model, q, s[:, 0], m)
    with pytest.raises(ValueError, match='batch sizes differ'):
        logits_of(model, q[:1], s, m)
    with pytest.raises(ValueError, match='keep_query_gt_original'):
        MODELS.build(
            dict(tiny_hsnet_cfg(), test_cfg=dict(output_size='original')))


def test_data_preprocessor(model):
    batch = packed_batch(b=2, k=2)
    batch['inputs']['support_masks'][0][0, 0, 0] = 255
    out = model.data_preprocessor(batch, False)['inputs']
    assert out['query_img'].shape == (2, 3, 64, 64)
    assert out['support_imgs'].dtype == torch.float32
    assert out['support_masks'][0, 0, 0, 0] == 0  # ignore -> background
    assert 'mean' not in model.state_dict() and not any(
        k.startswith('data_preprocessor') for k in model.state_dict())
    batch['inputs']['support_masks'][1] = torch.full((2, 64, 64),
                                                     7,
                                                     dtype=torch.uint8)
    with pytest.raises(ValueError, match='0, 1 or 255'):
        model.data_preprocessor(batch, False)
    bad = packed_batch(b=2, k=2)
    bad['inputs']['support_imgs'][1] = torch.zeros(3, 3, 64, 64)
    with pytest.raises(ValueError, match='same image size and shot count'):
        model.data_preprocessor(bad, False)


def test_query_encoded_once_for_all_shots(model):
    calls = []
    model.backbone.register_forward_hook(
        lambda mod, args, out: calls.append(args[0].shape[0]))
    q, s, m = episode(2, 3)
    logits_of(model, q, s, m)
    assert calls == [2, 6]  # the 2 queries once, then the 2 x 3 supports
