# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""An export run by ONNX Runtime and OpenVINO equals PyTorch: per-shot
logits within 1e-4, K-shot votes identical where PyTorch's own margin is at
least 1e-4, on a model trained in the test and on the official fixture's
weights; K in {1, 5}, two image sizes (the export is size-dynamic).
OpenVINO runs in a subprocess (tests/deploy/runtime_process.py)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from hsnet_mm.apis import inference_episode
from hsnet_mm.deploy import DeployedHSNet
from hsnet_mm.models.segmentors import vote_kshot
from hsnet_mm.structures import EPISODE_INPUT_KEYS
from hsnet_mm.utils import UserError
from tests.apis.episode_helpers import box_mask, image
from tests.deploy.runtime_process import deployed_outputs

BACKENDS = ['onnxruntime', 'openvino']


def episode(size, shots, queries=2, seed=0):
    """Normalised-looking random inputs with box masks, batched per query."""
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    support = torch.randn(shots, 3, h, w, generator=gen)
    masks = torch.zeros(shots, h, w)
    for k in range(shots):
        masks[k, k * h // (2 * shots):k * h // (2 * shots) + h // 2,
              w // 4:3 * w // 4] = 1
    return dict(
        query_img=torch.randn(queries, 3, h, w, generator=gen),
        support_imgs=support.expand(queries, *support.shape),
        support_masks=masks.expand(queries, *masks.shape))


def assert_equal_to_pytorch(logits, ref):
    """Logits within 1e-4; votes equal where PyTorch's margin >= 1e-4."""
    assert logits.shape == ref.shape
    assert float((logits - ref).abs().max()) <= 1e-4
    margin = (ref[:, :, 1] - ref[:, :, 0]).abs().min(dim=1)[0]
    decided = margin >= 1e-4
    assert decided.float().mean() > 0.99
    assert torch.equal(vote_kshot(logits)[decided], vote_kshot(ref)[decided])


CASES = [(shots, size) for shots in (1, 5) for size in ((64, 64), (48, 80))]


@pytest.mark.parametrize('backend', BACKENDS)
def test_trained_model_equals_pytorch(trained_tiny, tiny_export, backend,
                                      tmp_path):
    """K in {1, 5} x two sizes; a batch of episodes, and one support set
    encoded once for 2 queries."""
    _, model, _, _ = trained_tiny
    episodes = [episode(size, shots) for shots, size in CASES]
    jobs = [(kind, inputs) for inputs in episodes
            for kind in ('encode_decode', 'shot_logits')]
    outputs = deployed_outputs(tiny_export, backend, jobs, tmp_path)
    for (kind, inputs), logits in zip(jobs, outputs):
        with torch.no_grad():
            ref = model.encode_decode(inputs)
        assert_equal_to_pytorch(logits, ref)


@pytest.mark.parametrize('backend', BACKENDS)
def test_inference_episode_same_results(trained_tiny, tiny_export, backend,
                                        tmp_path):
    """The API on an export gives PyTorch's SegDataSamples (packed by the
    same code: the vote and the resize to the original size)."""
    _, model, _, _ = trained_tiny
    data = ([image(50, 70, 1),
             image(90,
                   60, 2)], [image(64, 64, 3),
                             image(40, 80,
                                   4)], [box_mask(64, 64),
                                         box_mask(40, 80)])
    ours, = deployed_outputs(tiny_export, backend,
                             [('inference_episode', data)], tmp_path)
    ref = inference_episode(model, *data)
    for (seg_logits, pred), b in zip(ours, ref):
        assert pred.shape == b.pred_sem_seg.data.shape
        same = (pred == b.pred_sem_seg.data).float().mean()
        assert same >= 0.999
        diff = (seg_logits - b.seg_logits.data).abs().max()
        assert diff <= 1e-4, diff


def test_bad_input(trained_tiny, tiny_export):
    cfg, _, _, _ = trained_tiny
    deployed = DeployedHSNet(str(tiny_export))
    inputs = episode((64, 64), 2)
    with pytest.raises(ValueError, match=r'one support set at a time'):
        deployed.encode_support(inputs['support_imgs'],
                                inputs['support_masks'])
    with pytest.raises(ValueError, match='mask'):
        deployed.encode_support(inputs['support_imgs'][:1],
                                inputs['support_masks'][:1, :, :32])
    support = deployed.encode_support(inputs['support_imgs'][:1],
                                      inputs['support_masks'][:1])
    with pytest.raises(ValueError, match=r'encoded for .* at \(64, 64\)'):
        deployed.shot_logits(torch.zeros(1, 3, 48, 64), support)
    with pytest.raises(ValueError, match=r'\(N, 3, H, W\)'):
        deployed.extract_feat(torch.zeros(1, 1, 64, 64))
    with pytest.raises(UserError, match='cannot be trained'):
        deployed(inputs, mode='loss')
    other = Config(cfg.to_dict())
    other.model.decode_head.channels = 16
    with pytest.raises(UserError, match='another model config'):
        DeployedHSNet(str(tiny_export), cfg=other)
    with pytest.raises(UserError, match='backend must be one of'):
        DeployedHSNet(str(tiny_export), 'tensorrt')


@pytest.mark.slow
@pytest.mark.parametrize('backend', BACKENDS)
def test_official_fixture(official, official_export, backend, tmp_path):
    """The official outputs (1-shot at 400 and 320 px, 5-shot at 400 px),
    and PyTorch's 5-shot logits at 320 px."""
    fixture, model = official
    five = fixture['cases'][1]
    resized = {
        k:
        F.interpolate(
            five[k].flatten(0, -4).float(), size=(320, 320),
            mode='bilinear').reshape(*five[k].shape[:-2], 320, 320)
        for k in ('query_img', 'support_imgs')
    }
    resized['support_masks'] = (F.interpolate(
        five['support_masks'].float(), size=(320, 320)) > 0.5).float()
    episodes = [{
        k: case[k]
        for k in EPISODE_INPUT_KEYS
    } for case in fixture['cases']] + [resized]
    outputs = deployed_outputs(official_export, backend,
                               [('encode_decode', e) for e in episodes],
                               tmp_path)
    for case, logits in zip(fixture['cases'], outputs):
        assert_equal_to_pytorch(logits, case['per_shot_logits'])
        margin = (case['per_shot_logits'][:, :, 1] -
                  case['per_shot_logits'][:, :, 0]).abs().min(dim=1)[0]
        decided = margin >= 1e-4
        assert torch.equal(
            vote_kshot(logits)[decided], case['pred_mask'][decided])
    with torch.no_grad():
        ref = model.encode_decode(resized)
    assert ref.shape[1] == 5
    assert_equal_to_pytorch(outputs[-1], ref)


def test_arrays_are_float32(tiny_export):
    deployed = DeployedHSNet(str(tiny_export))
    feats = deployed.extract_feat(torch.zeros(1, 3, 64, 64).double())
    assert all(f.dtype == torch.float32 for level in feats for f in level)
    assert np.isfinite(feats[0][0].numpy()).all()


DEPLOYED_HUGE_QUERY_SCRIPT = '''
from hsnet_mm.apis import inference_episode, init_model

model = init_model(sys.argv[2], backend=sys.argv[3])
base = peak_kib()
support = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
mask = np.zeros((48, 64), np.uint8)
mask[10:30, 20:40] = 1
res = inference_episode(model, sys.argv[1], [support] * 2, [mask] * 2)
assert res.pred_sem_seg.shape == (12000, 12000)
print(base, peak_kib())
'''


@pytest.mark.slow
def test_a_12000_x_12000_query_peaks_under_2_gb(tiny_export, tmp_path):
    """An export takes PyTorch's packer (banded vote at the original size):
    the runtime adds its session, not a full-size copy (measured: ONNX
    Runtime 1.66 GiB, OpenVINO 1.72 GiB; PyTorch 1.64 GiB)."""
    from tests.apis.episode_helpers import measure_peak, write_large_png
    huge = write_large_png(tmp_path / 'huge.png', 12000, 12000)
    base, peak = measure_peak(DEPLOYED_HUGE_QUERY_SCRIPT, huge,
                              str(tiny_export), 'onnxruntime')
    assert peak < 2 * 2**20, (base, peak)
