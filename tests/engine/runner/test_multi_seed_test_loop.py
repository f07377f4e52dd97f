# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""MultiSeedTestLoop on a stand-in Runner: one test epoch per seed, the
per-seed scores and their summary (through tools/test.py:
tests/tools/test_test_tool_seeds.py)."""
import pytest
from mmengine.evaluator import BaseMetric, Evaluator
from torch.utils.data import DataLoader

from hsnet_mm.engine import MultiSeedTestLoop
from hsnet_mm.evaluation import FewShotMetric
from tests.engine.runner.seed_toys import SeededEpisodes, fake_runner


def loader(dataset=None, **kwargs):
    return DataLoader(
        dataset or SeededEpisodes(),
        batch_size=4,
        collate_fn=lambda batch: batch,
        **kwargs)


def test_one_test_epoch_per_seed():
    runner = fake_runner()
    dataloader = loader()
    loop = MultiSeedTestLoop(
        runner, dataloader, Evaluator([FewShotMetric()]), seeds=[1, 0])
    metrics = loop.run()
    assert dataloader.dataset.seeds_set == [1, 0]
    # every episode of each seed was predicted, in order
    assert runner.model.seen == [(s, i) for s in (1, 0) for i in range(6)]
    assert [h for h in runner.hooks if not h.endswith('_iter')] == [
        'before_test', 'before_test_epoch', 'after_test_epoch',
        'before_test_epoch', 'after_test_epoch', 'after_test'
    ]
    assert runner.hooks.count('before_test_iter') == 4  # 2 batches per seed
    assert metrics['mIoU'] == pytest.approx(75)
    assert metrics['FB-IoU'] == pytest.approx((100 + 175 / 3) / 2)


def test_runs_and_summary():
    loop = MultiSeedTestLoop(
        fake_runner(),
        loader(),
        Evaluator([FewShotMetric()]),
        seeds=[0, 1],
        confidence=0.9)
    loop.run()
    first, second = loop.runs
    assert (first['seed'], second['seed']) == (0, 1)
    assert first['mIoU'] == pytest.approx(100)
    assert second['mIoU'] == pytest.approx(50)
    assert second['FB-IoU'] == pytest.approx(175 / 3)
    assert first['class_ids'] == [0, 1]
    assert second['class_iou'] == pytest.approx(dict(cat=50, dog=50))
    assert second['class_episodes'] == dict(cat=3, dog=3)
    assert [r['episode_idx'] for r in second['episodes']] == list(range(6))
    summary = loop.summary
    assert summary['seeds'] == [0, 1] and summary['confidence'] == 0.9
    assert summary['mIoU']['mean'] == pytest.approx(75)
    assert summary['class_iou']['cat']['mean'] == pytest.approx(75)


def test_ambiguous_class_names_fall_back_to_ids():
    loop = MultiSeedTestLoop(fake_runner(),
                             loader(SeededEpisodes(classes=('x', 'x'))),
                             Evaluator([FewShotMetric()]))
    assert loop.seeds == [0]
    loop.run()
    assert list(loop.runs[0]['class_iou']) == ['0', '1']


@pytest.mark.parametrize('seeds', [[], [3, 3]])
def test_seeds_must_be_distinct_and_present(seeds):
    with pytest.raises(ValueError, match='seeds must be distinct'):
        MultiSeedTestLoop(
            fake_runner(), loader(), Evaluator([FewShotMetric()]), seeds=seeds)


def test_the_dataset_must_redraw_its_episodes():
    with pytest.raises(TypeError, match='no set_episode_seed'):
        MultiSeedTestLoop(fake_runner(), loader(list(range(4))),
                          Evaluator([FewShotMetric()]))


def test_persistent_workers_would_keep_the_first_seed():
    workers = loader(num_workers=1, persistent_workers=True)
    with pytest.raises(ValueError, match='without persistent workers'):
        MultiSeedTestLoop(
            fake_runner(), workers, Evaluator([FewShotMetric()]), seeds=[0, 1])
    # one seed: nothing to redraw, persistent workers are fine
    MultiSeedTestLoop(fake_runner(), workers, Evaluator([FewShotMetric()]))


class TwoScores(BaseMetric):

    def process(self, data_batch, data_samples):
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return {'mIoU': 1.0, 'FB-IoU': 2.0}


def test_the_first_metric_must_be_a_few_shot_metric():
    loop = MultiSeedTestLoop(fake_runner(), loader(), Evaluator(TwoScores()))
    with pytest.raises(TypeError, match='FewShotMetric as the first'):
        loop.run()
