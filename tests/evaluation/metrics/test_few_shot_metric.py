# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""FewShotMetric against hand-computed areas and scores.

The episodes (2x4 / 2x2 masks; 255 = ignore):

====  =====  ==========================  =====================
 idx  class  case                        (I_bg, I_fg, U_bg, U_fg)
====  =====  ==========================  =====================
   0      0  mixed, one ignore pixel     (3, 2, 5, 4)
   1      1  empty prediction            (3, 0, 4, 1)
   2      1  empty ground truth          (2, 0, 4, 2)
   3      0  perfect                     (1, 3, 1, 3)
   4      5  not a fold class (skipped)  (0, 4, 0, 4)
====  =====  ==========================  =====================

With fold classes [0, 1, 2] (class 2 has no episode):
class 0 sums I = (4, 5), U = (6, 7); class 1 I = (5, 0), U = (8, 3), so
mIoU = 100 * (5/7 + 0 + 0) / 3 and FB-IoU = 100 * (9/14 + 5/10) / 2.
"""
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

from hsnet_mm.evaluation import FewShotMetric, rescore_episodes

MIOU = 100 * (5 / 7) / 3
FB_IOU = 100 * (9 / 14 + 0.5) / 2
FOLD_META = dict(
    fold_class_ids=[0, 1, 2],
    classes=('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus'),
    fold=0)

GT_MIXED = [[1, 1, 0, 0], [1, 255, 0, 0]]
PRED_MIXED = [[1, 0, 0, 1], [1, 1, 0, 0]]
EPISODES = [
    # (class, gt, pred, expected areas)
    (0, GT_MIXED, PRED_MIXED, (3, 2, 5, 4)),
    (1, [[1, 0], [0, 0]], [[0, 0], [0, 0]], (3, 0, 4, 1)),
    (1, [[0, 0], [0, 0]], [[1, 1], [0, 0]], (2, 0, 4, 2)),
    (0, [[1, 1], [1, 0]], [[1, 1], [1, 0]], (1, 3, 1, 3)),
    (5, [[1, 1], [1, 1]], [[1, 1], [1, 1]], (0, 4, 0, 4)),
]


def make_sample(idx, class_id, gt, pred, pred_dtype=torch.int64, as_dict=True):
    """One model output of an episode, as the Evaluator passes it."""
    sample = SegDataSample(
        metainfo=dict(
            class_id=class_id,
            query_name=f'q{idx}.jpg',
            support_names=[f's{idx}.jpg'],
            shot=1,
            episode_idx=idx))
    sample.gt_sem_seg = PixelData(data=torch.tensor(gt)[None])
    sample.pred_sem_seg = PixelData(
        data=torch.tensor(pred, dtype=pred_dtype)[None])
    return sample.to_dict() if as_dict else sample


def make_samples(pred_dtype=torch.int64, as_dict=True):
    """The samples of :data:`EPISODES`."""
    return [
        make_sample(i, c, gt, pred, pred_dtype, as_dict)
        for i, (c, gt, pred, _) in enumerate(EPISODES)
    ]


def build_metric(**kwargs):
    """A FewShotMetric with the fold-0 meta of the toy dataset."""
    metric = METRICS.build(dict(type='FewShotMetric', **kwargs))
    metric.dataset_meta = FOLD_META
    return metric


@pytest.mark.parametrize('pred_dtype',
                         [torch.int64, torch.uint8, torch.float32])
@pytest.mark.parametrize('as_dict', [True, False])
def test_process_areas(pred_dtype, as_dict):
    metric = build_metric()
    metric.process({}, make_samples(pred_dtype, as_dict))
    got = [(r['I_bg'], r['I_fg'], r['U_bg'], r['U_fg'])
           for r in metric.results]
    assert got == [e[-1] for e in EPISODES]
    first = metric.results[0]
    assert first['class_id'] == 0 and first['episode_idx'] == 0
    assert first['query_name'] == 'q0.jpg'
    assert first['support_names'] == ['s0.jpg'] and first['shot'] == 1
    assert all(type(r['I_fg']) is int for r in metric.results)


def test_compute_metrics_hand_computed():
    metric = build_metric()
    metric.process({}, make_samples())
    with mock.patch(
            'hsnet_mm.evaluation.metrics.few_shot_metric.print_log') as log:
        metrics = metric.compute_metrics(metric.results)
    assert set(metrics) == {'mIoU', 'FB-IoU'}
    assert metrics['mIoU'] == pytest.approx(MIOU, abs=1e-9)
    assert metrics['FB-IoU'] == pytest.approx(FB_IOU, abs=1e-9)
    assert isinstance(metrics['mIoU'], float)
    text = '\n'.join(str(c.args[0]) for c in log.call_args_list)
    # Class names by global id; class 2 listed with 0 episodes.
    assert 'aeroplane' in text and 'bird' in text and 'boat' not in text
    assert '71.43' in text
    assert 'mIoU: 23.81  FB-IoU: 57.14  (4 episodes, 1-shot, fold 0)' in text
    assert '1 of 5 episodes' in text


def test_no_fold_class_ids_scores_seen_classes():
    metric = FewShotMetric()
    metric.process({}, make_samples()[:4])
    metrics = metric.compute_metrics(metric.results)
    # Classes 0 and 1 only: mIoU = 100 * (5/7) / 2.
    assert metrics['mIoU'] == pytest.approx(100 * 5 / 7 / 2)
    assert metrics['FB-IoU'] == pytest.approx(FB_IOU)
    with pytest.raises(ValueError, match='no episode'):
        FewShotMetric().compute_metrics([])


def test_all_empty_is_zero_not_nan():
    metric = build_metric()
    assert metric.compute_metrics([]) == {'mIoU': 0.0, 'FB-IoU': 0.0}


def test_two_ranks_merged_equal_single_run():
    samples = make_samples()
    single = build_metric()
    single.process({}, samples)
    rank0, rank1 = build_metric(), build_metric()
    # The distributed sampler interleaves: rank 0 gets 0, 2, 4; rank 1 1, 3.
    rank0.process({}, samples[0::2])
    rank1.process({}, samples[1::2])
    merged = rank0.results + rank1.results
    assert (single.compute_metrics(
        single.results) == rank0.compute_metrics(merged))


def test_evaluate_drops_padding(tmp_path):
    out = tmp_path / 'sub' / 'episodes.json'
    metric = build_metric(output_file=str(out))
    metric.process({}, make_samples())
    # A padded duplicate of episode 0 at the end, as a sampler pads.
    metric.results.append(dict(metric.results[0]))
    padded = metric.compute_metrics(list(metric.results))
    assert padded['mIoU'] != pytest.approx(MIOU)
    metrics = metric.evaluate(len(EPISODES))
    assert metrics == pytest.approx({'mIoU': MIOU, 'FB-IoU': FB_IOU})
    assert metric.results == []
    # The per-episode file re-scores to the same numbers.
    assert rescore_episodes(str(out)) == metrics
    class0 = {'mIoU': 100 * 5 / 7, 'FB-IoU': 100 * (4 / 6 + 5 / 7) / 2}
    assert rescore_episodes(out, [0]) == pytest.approx(class0)
    assert not list(out.parent.glob('*.tmp'))


def test_output_file_content(tmp_path):
    import json
    out = tmp_path / 'episodes.json'
    metric = build_metric(output_file=str(out))
    rank0, rank1 = make_samples()[0::2], make_samples()[1::2]
    metric.process({}, rank0)
    metric.process({}, rank1)
    metrics = metric.compute_metrics(metric.results)
    data = json.loads(out.read_text())
    assert data['fold'] == 0 and data['fold_class_ids'] == [0, 1, 2]
    assert data['metrics'] == metrics and data['num_episodes'] == 5
    episodes = data['episodes']
    assert [e['episode_idx'] for e in episodes] == [0, 1, 2, 3, 4]
    assert episodes[0] == dict(
        episode_idx=0,
        query_name='q0.jpg',
        support_names=['s0.jpg'],
        class_id=0,
        shot=1,
        I_bg=3,
        I_fg=2,
        U_bg=5,
        U_fg=4)
    assert rescore_episodes(episodes, [0, 1, 2]) == metrics


def test_one_name_for_the_output_file():
    assert FewShotMetric(output_file='b.json').output_file == 'b.json'
    with pytest.raises(TypeError, match='out_file'):
        FewShotMetric(out_file='b.json')


def test_default_prefix_keys():
    metric = build_metric()
    metric.process({}, make_samples())
    assert set(metric.evaluate(5)) == {'mIoU', 'FB-IoU'}
    metric = build_metric(prefix='val')
    metric.process({}, make_samples())
    assert set(metric.evaluate(5)) == {'val/mIoU', 'val/FB-IoU'}


def test_ignore_pixels_with_float_prediction_over_ignore():
    # A prediction of 1 on an ignored pixel counts nowhere.
    metric = build_metric()
    metric.process({}, [
        make_sample(9, 0, [[255, 255], [0, 1]], [[1, 1], [0, 1]],
                    torch.float32)
    ])
    r = metric.results[0]
    assert (r['I_bg'], r['I_fg'], r['U_bg'], r['U_fg']) == (1, 1, 1, 1)


@pytest.mark.parametrize('gt,pred,match', [
    ([[0, 1]], [[0, 2]], r'episode 7 .*pred_sem_seg must hold only 0 and 1'),
    ([[0, 1]], [[0, 0.5]], r'episode 7 .*found \[0.5'),
    ([[0, 1]], [[0, 1, 1]], r'episode 7 .*shape \(1, 3\).*\(1, 2\)'),
    ([[0, 3]], [[0, 1]], r'episode 7 .*gt_sem_seg must hold only 0, 1'),
])
def test_bad_inputs(gt, pred, match):
    metric = build_metric()
    dtype = torch.float32 if isinstance(pred[0][1], float) else torch.int64
    with pytest.raises(ValueError, match=match):
        metric.process({}, [make_sample(7, 0, gt, pred, dtype)])


def test_missing_fields():
    metric = build_metric()
    sample = make_sample(7, 0, [[0, 1]], [[0, 1]])
    del sample['class_id']
    with pytest.raises(KeyError, match='class_id'):
        metric.process({}, [sample])
    sample = make_sample(7, 0, [[0, 1]], [[0, 1]])
    del sample['gt_sem_seg']
    with pytest.raises(KeyError, match='gt_sem_seg'):
        metric.process({}, [sample])


def test_numpy_class_id_and_masks():
    metric = build_metric()
    sample = dict(
        class_id=np.int64(1),
        episode_idx=np.int64(3),
        pred_sem_seg=dict(data=np.array([[[1, 0]]], dtype=np.uint8)),
        gt_sem_seg=dict(data=np.array([[[1, 1]]], dtype=np.uint8)))
    metric.process({}, [sample])
    r = metric.results[0]
    assert type(r['class_id']) is int and type(r['episode_idx']) is int
    assert r['query_name'] is None and r['support_names'] is None
    assert (r['I_bg'], r['I_fg'], r['U_bg'], r['U_fg']) == (0, 1, 1, 2)


def test_banded_areas_equal_whole_image_areas(monkeypatch):
    from hsnet_mm.evaluation.functional import episode_intersect_union
    from hsnet_mm.evaluation.metrics import few_shot_metric
    rng = np.random.default_rng(0)
    pred = torch.from_numpy(rng.integers(0, 2, (1, 23, 17)))
    gt = torch.from_numpy(rng.choice([0, 1, 255], (1, 23, 17)))
    whole = episode_intersect_union(pred, gt)
    monkeypatch.setattr(few_shot_metric, 'BAND_PIXELS', 40)  # 2 rows
    assert few_shot_metric.banded_intersect_union(pred, gt) == whole
    assert few_shot_metric.banded_intersect_union(pred[0].numpy(),
                                                  gt.to(torch.uint8)) == whole
    with pytest.raises(ValueError, match='only 0 and 1'):
        few_shot_metric.banded_intersect_union(pred * 2, gt)
    with pytest.raises(ValueError, match='shape'):
        few_shot_metric.banded_intersect_union(pred, gt[..., 1:])
