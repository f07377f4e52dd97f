# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""inference_episode: forms, sizes, K, support reuse equal to predict."""
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

import hsnet_mm  # noqa: F401
from hsnet_mm.apis import inference_episode, init_model
from hsnet_mm.apis.episode_pipeline import EpisodePipeline
from tests.apis.episode_helpers import (INPUT_HW, image, support_set,
                                        tiny_config)


def reference(model, query, imgs, masks):
    """model.predict on the same episode (output at ``ori_shape``)."""
    pipeline = EpisodePipeline(model.cfg)
    packed = pipeline(query, imgs, [(m > 0).astype(np.uint8) for m in masks])
    data = model.data_preprocessor(pseudo_collate([packed]), False)
    with torch.no_grad():
        return model.predict(data['inputs'], data['data_samples'])[0]


@pytest.mark.parametrize('k', [1, 3])
def test_queries_share_supports_and_equal_predict(model, k):
    imgs, masks = support_set(k)
    queries = [image(30, 90, 1), image(81, 33, 2), image(48, 64, 3)]
    results = inference_episode(model, queries, imgs, masks)
    assert isinstance(results, list) and len(results) == 3
    for q, res in zip(queries, results):
        h0, w0 = q.shape[:2]
        assert res.pred_sem_seg.data.shape == (1, h0, w0)
        assert res.pred_sem_seg.data.dtype == torch.int64
        assert res.seg_logits.data.shape == (2, h0, w0)
        assert res.shot_pred_sem_seg.data.shape == (k, h0, w0)
        assert res.metainfo['ori_shape'] == (h0, w0)
        assert res.metainfo['img_shape'] == INPUT_HW
        ref = reference(model, q, imgs, masks)
        assert torch.equal(res.pred_sem_seg.data, ref.pred_sem_seg.data)
        assert torch.equal(res.seg_logits.data, ref.seg_logits.data)
        assert torch.equal(res.shot_pred_sem_seg.data,
                           ref.shot_pred_sem_seg.data)
    # the votes are the shots' argmax; K = 1: the vote is the prediction
    if k == 1:
        assert torch.equal(results[0].shot_pred_sem_seg.data,
                           results[0].pred_sem_seg.data)


def test_the_support_backbone_runs_once(model, monkeypatch):
    imgs, masks = support_set(3)
    calls = []
    original = model.backbone.forward

    def counting(x):
        calls.append(x.shape[0])
        return original(x)

    monkeypatch.setattr(model.backbone, 'forward', counting)
    inference_episode(model, [image(30, 40, i) for i in range(4)], imgs, masks)
    assert calls == [3, 1, 1, 1, 1]  # supports once, then each query


def test_arrays_pil_and_files_agree(model, tmp_path):
    imgs, masks = support_set(1)
    query = image(52, 76, 5)
    paths = {}
    for name, arr in (('q', query), ('s', imgs[0]), ('m', masks[0])):
        paths[name] = str(tmp_path / f'{name}.png')
        Image.fromarray(arr).save(paths[name])
    a = inference_episode(model, query, imgs, masks)
    b = inference_episode(model, Image.fromarray(query),
                          [Image.fromarray(imgs[0])],
                          [Image.fromarray(masks[0])])
    c = inference_episode(model, paths['q'], paths['s'], paths['m'])
    for other in (b, c):
        assert torch.equal(a.pred_sem_seg.data, other.pred_sem_seg.data)
        assert torch.equal(a.seg_logits.data, other.seg_logits.data)
    assert c.metainfo['img_path'] == paths['q']
    assert c.metainfo['support_img_paths'] == [paths['s']]
    # a single query (not in a list) gives a single sample
    assert not isinstance(a, list)


def test_bad_inputs_are_named(model, tmp_path):
    imgs, masks = support_set(2)
    with pytest.raises(FileNotFoundError, match=r'query.*missing.png'):
        inference_episode(model, str(tmp_path / 'missing.png'), imgs, masks)
    with pytest.raises(ValueError, match='2 support image.*1 support mask'):
        inference_episode(model, image(9, 9, 0), imgs, masks[:1])
    tiny = np.zeros((400, 400), np.uint8)
    tiny[3, 3] = 1  # between the rows/cols nearest resizing keeps
    with pytest.raises(ValueError, match='shot 0.*vanishes.*too small'):
        inference_episode(model, image(9, 9, 0), [image(400, 400, 1)], [tiny])
    bare = init_model(tiny_config())
    del bare.cfg
    with pytest.raises(ValueError, match='init_model'):
        inference_episode(bare, image(9, 9, 0), imgs, masks)


HUGE_QUERY_SCRIPT = '''
from hsnet_mm.apis import inference_episode, init_model

model = init_model(sys.argv[3], sys.argv[4])
base = peak_kib()
support = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
mask = np.zeros((48, 64), np.uint8)
mask[10:30, 20:40] = 1
queries = [sys.argv[1]] * int(sys.argv[2])
res = inference_episode(model, queries, [support] * 2, [mask] * 2)
assert len(res) == len(queries) and res[0].seg_logits.data.shape == (2, 48, 64)
print(base, peak_kib())
'''


@pytest.mark.slow
def test_large_queries_peak_at_results_plus_a_bounded_working_set(tmp_path):
    """One 12000 x 12000 query under 2 GiB; three 8000 x 8000 queries in
    one call: their results (8 bytes a pixel each) plus under 1 GiB."""
    from tests.apis.episode_helpers import (measure_peak, tiny_files,
                                            write_large_png)
    config, checkpoint = tiny_files(tmp_path)
    huge = write_large_png(tmp_path / 'huge.png', 12000, 12000)
    base, peak = measure_peak(HUGE_QUERY_SCRIPT, huge, '1', config, checkpoint)
    assert peak < 2 * 2**20, (base, peak)
    big = write_large_png(tmp_path / 'big.png', 8000, 8000)
    base, peak = measure_peak(HUGE_QUERY_SCRIPT, big, '3', config, checkpoint)
    results_kib = 3 * 8000 * 8000 * 8 // 1024
    assert peak - base < results_kib + 2**20, (base, peak, results_kib)


def test_equal_to_predict_on_every_device(device):
    """Support reuse on the model's device equals predict there."""
    torch.manual_seed(0)
    model = init_model(tiny_config(), device=str(device))
    imgs, masks = support_set(3)
    queries = [image(30, 90, 1), image(81, 33, 2)]
    results = inference_episode(model, queries, imgs, masks)
    for q, res in zip(queries, results):
        ref = reference(model, q, imgs, masks)
        assert res.pred_sem_seg.data.device.type == device.type
        assert torch.equal(res.pred_sem_seg.data, ref.pred_sem_seg.data)
        assert torch.equal(res.seg_logits.data, ref.seg_logits.data)
