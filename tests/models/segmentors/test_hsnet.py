# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

import hsnet_mm  # noqa: F401
from hsnet_mm.models.segmentors import vote_kshot
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


def test_kshot_loss_pairs_each_shot_with_its_episode():
    """B=2, K=2, one episode all foreground and one all background: a
    shot-major pairing of the shots with the query masks changes the loss."""
    init_default_scope('mmseg')
    torch.manual_seed(2)
    model = MODELS.build(tiny_hsnet_cfg()).eval()
    batch = model.data_preprocessor(packed_batch(b=2, k=2), False)
    inputs, samples = batch['inputs'], batch['data_samples']
    inputs['query_img'][1] = torch.randn_like(inputs['query_img'][1]) * 3
    samples[0].gt_sem_seg.data.fill_(1)
    samples[1].gt_sem_seg.data.fill_(0)
    total = model.loss(inputs, samples)['decode.loss_ce']
    single = []
    for b in range(2):
        for k in range(2):
            one = {key: v[b:b + 1] for key, v in inputs.items()}
            one['support_imgs'] = one['support_imgs'][:, k:k + 1]
            one['support_masks'] = one['support_masks'][:, k:k + 1]
            single.append(model.loss(one, [samples[b]])['decode.loss_ce'])
    torch.testing.assert_close(total, sum(single) / 4)
    shot_major = (single[0] + single[3] + 2 * single[1]) / 4
    assert not torch.allclose(total, shot_major)


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


def test_tensor_api_refuses_what_it_cannot_read(model):
    q, s, m = episode(1, 2)
    with pytest.raises(TypeError, match='uint8.*normalised'):
        logits_of(model, q.to(torch.uint8), s, m)
    with pytest.raises(TypeError, match='float64.*weights are torch.float32'):
        logits_of(model, q.double(), s.double(), m)
    with pytest.raises(ValueError, match='RGB'):
        logits_of(model, q[:, :1], s[:, :, :1], m)
    with pytest.raises(ValueError, match='RGB'):
        logits_of(model, torch.cat([q, q[:, :1]], 1), s, m)
    bad = q.clone()
    bad[0, 0, 0, 0] = float('nan')
    with pytest.raises(ValueError, match='query_img holds NaN or Inf'):
        logits_of(model, bad, s, m)
    bad = s.clone()
    bad[0, 1, 2, 3, 4] = float('inf')
    with pytest.raises(ValueError, match='support_imgs holds NaN or Inf'):
        logits_of(model, q, bad, m)
    # under CPU autocast the float32 images of a float32 model are fine
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert logits_of(model, q, s, m).shape == (1, 2, 2, 64, 64)


def test_huge_inputs_refused_before_the_correlation(model, monkeypatch):
    from hsnet_mm.models.segmentors import correlation_memory
    seen = []
    model.neck.register_forward_pre_hook(lambda *args: seen.append(1))
    monkeypatch.setattr(correlation_memory, 'available_memory_bytes',
                        lambda device: 2**30)
    q, s, m = episode(1, 1, 1024, 1024)
    with pytest.raises(MemoryError) as err, torch.no_grad():
        logits_of(model, q, s, m)
    msg = str(err.value)
    # 3 x 2 layers x (128^4 + 64^4 + 32^4) float32 values, 6.4 GB
    assert 'at 1024 x 1024 px needs about 6.4 GiB' in msg
    assert '1.0 GiB free' in msg
    side = int(
        msg.split('largest square input that fits is about ')[1].split(' x ')
        [0])
    assert 32 <= side < 1024 and side % 32 == 0
    assert not seen  # refused before the neck ran
    # the size it names fits (ResNet strides 8, 16, 32)
    correlation_memory.check_correlation_memory([(2, side // 8, side // 8),
                                                 (2, side // 16, side // 16),
                                                 (2, side // 32, side // 32)],
                                                1, (side, side), 4,
                                                torch.device('cpu'))


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


@pytest.mark.parametrize('chunk', [1, 2])
def test_pair_chunks_change_nothing(model, chunk):
    """Neck and encoder per chunk of pairs: the logits of all pairs at
    once (every pair is independent)."""
    q, s, m = episode(2, 3)
    model.pair_chunk = 6
    with torch.no_grad():
        whole = logits_of(model, q, s, m)
        model.pair_chunk = chunk
        calls = []
        handle = model.encoder.register_forward_hook(
            lambda *args: calls.append(1))
        chunked = logits_of(model, q, s, m)
        handle.remove()
    assert len(calls) == -(-6 // chunk)
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-5)


def test_default_pair_chunk_by_correlation_size(model, monkeypatch):
    """On a CPU the default chunk keeps the largest correlation level
    under CPU_CHUNK_BYTES; elsewhere all pairs go at once."""
    from hsnet_mm.models import execution_policy as module
    assert model.pair_chunk is None
    feats = [[torch.zeros(6, 4, 8, 8)] * 2, [torch.zeros(6, 4, 4, 4)]]
    per_pair = 2 * 64**2 * 4  # 2 layers of an 8 x 8 level, fp32
    monkeypatch.setattr(module, 'CPU_CHUNK_BYTES', 2 * per_pair + 1)
    assert model._chunk_size(feats, 6, torch.device('cpu')) == 2
    monkeypatch.setattr(module, 'CPU_CHUNK_BYTES', 1)
    assert model._chunk_size(feats, 6, torch.device('cpu')) == 1
    assert model._chunk_size(feats, 6, torch.device('meta')) == 6
    with pytest.raises(ValueError, match='pair_chunk'):
        MODELS.build(dict(tiny_hsnet_cfg(), pair_chunk=0))


@pytest.mark.parametrize('frozen', [True, False])
def test_checkpointing_same_loss_and_gradients(device, frozen):
    """``with_cp`` recomputes each chunk's correlation and encoder in the
    backward pass: the same loss and gradients (to 1e-6)."""
    init_default_scope('mmseg')
    batch = packed_batch(b=2, k=2)
    results = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        model = MODELS.build(
            dict(tiny_hsnet_cfg(frozen=frozen), with_cp=with_cp,
                 pair_chunk=1)).to(device).train()
        data = model.data_preprocessor(batch, True)
        loss = model.loss(data['inputs'], data['data_samples'])
        loss = sum(v for k, v in loss.items() if 'loss' in k)
        loss.backward()
        grads = {
            name: p.grad.clone()
            for name, p in model.named_parameters() if p.requires_grad
        }
        results.append((loss.detach(), grads))
    (loss_plain, grads_plain), (loss_cp, grads_cp) = results
    torch.testing.assert_close(loss_cp, loss_plain, rtol=0, atol=1e-6)
    assert grads_cp.keys() == grads_plain.keys()
    assert any(name.startswith('backbone') for name in grads_cp) != frozen
    for name, grad in grads_plain.items():
        torch.testing.assert_close(
            grads_cp[name], grad, rtol=0, atol=1e-6, msg=name)


def test_memory_check_counts_the_pairs_held_at_once(model, monkeypatch):
    """Without autograd one chunk of pairs is held at a time; with it (a
    training step without ``with_cp``, or grad mode in eval) all of
    them."""
    seen = []

    def check(level_shapes, num_pairs, *args):
        seen.append(num_pairs)

    monkeypatch.setattr(
        'hsnet_mm.models.segmentors.correlation_memory.'
        'check_correlation_memory', check)
    q, s, m = episode(2, 3)
    model.pair_chunk = 2
    with torch.no_grad():
        logits_of(model, q, s, m)
    logits_of(model, q, s, m)  # eval, but autograd keeps every chunk
    model.train()
    batch = packed_batch(b=2, k=3)
    data = model.data_preprocessor(batch, True)
    model.loss(data['inputs'], data['data_samples'])
    model.with_cp = True
    model.loss(data['inputs'], data['data_samples'])
    assert seen == [2, 6, 6, 2]


def test_encoded_support_reused_equals_predict():
    """encode_support once, predict many queries: the same as predict on
    each whole episode; one support set serves a batch of queries."""
    init_default_scope('mmseg')
    torch.manual_seed(5)
    model = MODELS.build(tiny_hsnet_cfg()).eval()
    batch = model.data_preprocessor(packed_batch(b=3, k=2), False)
    inputs, samples = batch['inputs'], batch['data_samples']
    inputs['query_img'] = torch.randn_like(inputs['query_img'])
    # every episode uses the supports of episode 0
    for key in ('support_imgs', 'support_masks'):
        inputs[key] = inputs[key][:1].expand_as(inputs[key]).clone()
    with torch.no_grad():
        whole = model.predict(inputs, [s.clone() for s in samples])
        support = model.encode_support(inputs['support_imgs'][:1],
                                       inputs['support_masks'][:1])
        assert support.num_shots == 2 and support.batch_size == 1
        assert support.input_size == tuple(inputs['query_img'].shape[-2:])
        reused = model.predict(
            dict(query_img=inputs['query_img']), [s.clone() for s in samples],
            support=support)
        one = model.predict(
            dict(query_img=inputs['query_img'][1:2]), [samples[1].clone()],
            support=support)
    for a, b in zip(whole, reused):
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
        torch.testing.assert_close(
            a.seg_logits.data, b.seg_logits.data, rtol=0, atol=1e-6)
    assert torch.equal(one[0].pred_sem_seg.data, whole[1].pred_sem_seg.data)
    # supports of another size or batch are refused, naming both
    with pytest.raises(ValueError, match=r'encoded for 1 episode.*queries'):
        model.predict(
            dict(query_img=inputs['query_img'][:, :, :32]), support=support)
    two = model.encode_support(inputs['support_imgs'][:2],
                               inputs['support_masks'][:2])
    with pytest.raises(ValueError, match='encoded for 2 episode'):
        model.predict(dict(query_img=inputs['query_img']), support=two)


def test_the_chunk_size_is_decided_once_per_step(monkeypatch):
    init_default_scope('mmseg')
    model = MODELS.build(tiny_hsnet_cfg()).eval()
    batch = model.data_preprocessor(packed_batch(b=2, k=2), False)
    calls = []
    original = model._chunk_size
    monkeypatch.setattr(model, '_chunk_size',
                        lambda *a: calls.append(a) or original(*a))
    with torch.no_grad():
        model.predict(**batch)
    assert len(calls) == 1


def test_mismatched_inputs_are_refused_on_every_entry():
    """predict/loss take the preprocessor's tensors, but a direct call
    with shapes that do not fit is refused, not silently paired."""
    init_default_scope('mmseg')
    model = MODELS.build(tiny_hsnet_cfg()).eval()
    q = torch.randn(1, 3, 64, 64)
    with pytest.raises(ValueError, match='shot counts differ: 3 .* 1'):
        model.predict(
            dict(
                query_img=q,
                support_imgs=torch.randn(1, 3, 3, 64, 64),
                support_masks=torch.ones(1, 1, 64, 64)))
    with pytest.raises(ValueError, match='shot counts differ'):
        model.encode_support(
            torch.randn(1, 2, 3, 64, 64), torch.ones(1, 1, 64, 64))
    support = model.encode_support(
        torch.randn(1, 2, 3, 64, 64), torch.ones(1, 2, 64, 64))
    with pytest.raises(ValueError, match='not both'):
        model.encode_shots(q, torch.randn(1, 2, 3, 64, 64), support=support)
    with pytest.raises(TypeError, match='normalised float'):
        model.predict(dict(query_img=q.to(torch.uint8)), support=support)
    # a config error names the setting (one line in the tools)
    from hsnet_mm.utils import UserError
    with pytest.raises(UserError, match='pair_chunk'):
        MODELS.build(dict(tiny_hsnet_cfg(), pair_chunk=0))


def test_predict_under_the_test_cfg_autocast():
    """test_cfg.amp_dtype (tools/test.py --amp) runs predict under
    autocast; the packed logits are float32."""
    init_default_scope('mmseg')
    torch.manual_seed(0)
    model = MODELS.build(
        dict(tiny_hsnet_cfg(), test_cfg=dict(amp_dtype='bfloat16'))).eval()
    batch = model.data_preprocessor(packed_batch(b=1, k=2), False)
    with torch.no_grad():
        out = model.predict(**batch)[0]
        model.test_cfg = {}
        with torch.autocast('cpu', dtype=torch.bfloat16):
            ref = model._shot_logits(batch['inputs']).float()
    assert out.seg_logits.data.dtype == torch.float32
    torch.testing.assert_close(
        out.seg_logits.data,
        torch.nn.functional.interpolate(
            ref[0], (64, 64),
            mode='bilinear',
            align_corners=model.align_corners).mean(0))
    model.test_cfg = dict(amp_dtype='float16')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='float16 autocast needs CUDA'):
            model.predict(**batch)
