# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Test one model on several episode sets (one per seed) in one run."""
from typing import Any, Dict, List, Optional, Sequence, Union

from mmengine.dist import is_main_process
from mmengine.evaluator import Evaluator
from mmseg.registry import LOOPS
from torch.utils.data import DataLoader

from hsnet_mm.evaluation.functional import (accumulate_episodes,
                                            aggregate_seed_runs, class_ious,
                                            fold_class_names)
from .episode_test_loop import EpisodeTestLoop


@LOOPS.register_module()
class MultiSeedTestLoop(EpisodeTestLoop):
    """mmengine's ``TestLoop`` repeated over episode seeds (one batch in
    memory at a time, see :class:`EpisodeTestLoop`).

    The model, its weights and the dataset's pool are loaded once; for each
    seed the dataset draws its episodes again
    (:meth:`EpisodicDataset.set_episode_seed`), the loop runs them and the
    evaluator scores them. Seed 0 of an ``episode_sampling='official'``
    dataset with 1000 episodes is the official replay; other seeds run the
    official sampler with that seed. Each seed is one test epoch for the
    hooks (a progress bar and a metrics line per seed).

    After :meth:`run`, on rank 0, :attr:`runs` holds one dict per seed
    (``seed``, ``mIoU``, ``FB-IoU``, ``class_iou`` ``{class: IoU}``,
    ``class_episodes`` and ``episodes``, the per-episode records) and
    :attr:`summary` their :func:`aggregate_seed_runs`.

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The test dataloader, without
            persistent workers when there is more than one seed.
        evaluator (Evaluator | dict | list): Its first metric must be a
            ``FewShotMetric``.
        seeds (Sequence[int]): The episode seeds. Defaults to (0, ).
        fp16 (bool): Run the model under autocast. Defaults to False.
        confidence (float): Coverage of the confidence intervals.
            Defaults to 0.95.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 seeds: Sequence[int] = (0, ),
                 fp16: bool = False,
                 confidence: float = 0.95) -> None:
        super().__init__(runner, dataloader, evaluator, fp16=fp16)
        self.seeds = [int(s) for s in seeds]
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f'seeds must be distinct and at least one, got '
                             f'{list(seeds)}')
        dataset = self.dataloader.dataset
        if not hasattr(dataset, 'set_episode_seed'):
            raise TypeError(f'{type(dataset).__name__} cannot redraw its '
                            'episodes (no set_episode_seed): multi-seed '
                            'testing needs an EpisodicDataset')
        if len(self.seeds) > 1 and getattr(self.dataloader,
                                           'persistent_workers', False):
            raise ValueError('multi-seed testing needs a test dataloader '
                             'without persistent workers (they would keep '
                             'the first seed\'s episodes)')
        self.confidence = confidence
        self.runs: List[Dict[str, Any]] = []
        self.summary: Optional[Dict[str, Any]] = None

    def run(self) -> Dict[str, float]:
        """Test every seed.

        Returns:
            dict[str, float]: ``mIoU`` and ``FB-IoU``, the means over seeds.
        """
        self.runner.call_hook('before_test')
        dataset = self.dataloader.dataset
        runs, all_metrics = [], []
        for seed in self.seeds:
            dataset.set_episode_seed(seed)
            self.runner.call_hook('before_test_epoch')
            self.runner.model.eval()
            self.test_loss.clear()
            self.run_batches()
            metrics = self.evaluator.evaluate(len(dataset))
            all_metrics.append(metrics)
            if is_main_process():
                runs.append(self._seed_run(seed, metrics))
            self.runner.call_hook('after_test_epoch', metrics=metrics)
        self.runner.call_hook('after_test')
        if is_main_process():
            self.runs = runs
            self.summary = aggregate_seed_runs(runs, self.confidence)
        return {
            key: sum(m[key] for m in all_metrics) / len(all_metrics)
            for key in ('mIoU', 'FB-IoU')
        }

    def _seed_run(self, seed: int, metrics: Dict[str, float]) -> dict:
        """The scores, per-class IoU and episodes of one seed (rank 0)."""
        metric = self.evaluator.metrics[0]
        if not hasattr(metric, 'last_episodes'):
            raise TypeError('multi-seed testing needs a FewShotMetric as the '
                            f'first test metric, got {type(metric).__name__}')
        meta = metric.dataset_meta or {}
        episodes = sorted(
            metric.last_episodes, key=lambda r: r.get('episode_idx') or 0)
        ids = meta.get('fold_class_ids') or sorted(
            {int(r['class_id'])
             for r in episodes})
        ids = [int(c) for c in ids]
        names = fold_class_names(ids, meta.get('classes'))
        if len(set(names)) != len(names):
            names = [str(c) for c in ids]
        acc = accumulate_episodes(episodes, ids)
        return dict(
            seed=seed,
            mIoU=float(metrics['mIoU']),
            **{'FB-IoU': float(metrics['FB-IoU'])},
            class_ids=ids,
            class_iou=dict(zip(names,
                               class_ious(acc).tolist())),
            class_episodes=dict(zip(names, acc['num_episodes'].tolist())),
            episodes=episodes)
