# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""HSNet's few-shot evaluation (``mIoU``, ``FB-IoU``) as an mmengine metric.

Follows the protocol of juhongm999/hsnet (``test.py``,
``common/evaluation.py``): intersection and union are accumulated per class
over the episodes, then averaged over the fold's classes. The formulas live
in :mod:`hsnet_mm.evaluation.functional`.
"""
import json
import logging
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmengine.structures import BaseDataElement
from mmseg.registry import METRICS
from prettytable import PrettyTable

from ...structures import IGNORE_INDEX
from ...utils import atomic_write_text, result_environment
from ..functional import (accumulate_episodes, class_ious,
                          episode_intersect_union, fold_class_names,
                          format_summary, scores_from_accumulated)


def _field(sample: Any, key: str, default: Any = None) -> Any:
    """Read ``key`` from a data sample: a dict or a ``SegDataSample``.

    Both have ``get``; a data element finds metainfo keys through it too.
    """
    return sample.get(key, default)


def _pixel_data(sample: Any, key: str, name: str) -> Any:
    """Return the ``data`` tensor of the PixelData field ``key``."""
    value = _field(sample, key)
    if value is None:
        raise KeyError(f'{name}: the data sample has no {key!r}; '
                       'FewShotMetric needs pred_sem_seg and gt_sem_seg')
    if isinstance(value, BaseDataElement):
        return value.data
    if isinstance(value, dict):
        return value['data']
    return value


#: Pixels of the bands in which a large episode's areas are counted.
#: Small: bands of 4 Mpx (a dozen 4 MB masks each) left ~350 MB of freed
#: heap behind at 12000 x 12000 (glibc keeps blocks under its adaptive
#: mmap threshold); 256 kpx is as fast and leaves ~30 MB.
BAND_PIXELS = 2**18


def banded_intersect_union(pred: Any,
                           gt: Any,
                           ignore_index: int = IGNORE_INDEX,
                           name: str = 'episode') -> tuple:
    """:func:`episode_intersect_union` counted in bands of rows of
    :data:`BAND_PIXELS`: the same counts, with temporaries (masks, a
    device's copy) of a band's size, not the image's (``--original-size``
    on a 12000 x 12000 query). Arguments as ``episode_intersect_union``.
    """
    pred, gt = torch.as_tensor(pred), torch.as_tensor(gt)
    p2 = pred[0] if pred.dim() == 3 and pred.shape[0] == 1 else pred
    g2 = gt[0] if gt.dim() == 3 and gt.shape[0] == 1 else gt
    if p2.dim() != 2 or p2.shape != g2.shape or p2.numel() <= BAND_PIXELS:
        return episode_intersect_union(pred, gt, ignore_index, name)
    rows = max(1, BAND_PIXELS // p2.shape[1])
    totals = [0, 0, 0, 0]
    for start in range(0, p2.shape[0], rows):
        areas = episode_intersect_union(p2[start:start + rows],
                                        g2[start:start + rows], ignore_index,
                                        name)
        totals = [t + a for t, a in zip(totals, areas)]
    return tuple(totals)


@METRICS.register_module()
class FewShotMetric(BaseMetric):
    """Few-shot segmentation metric of HSNet: ``mIoU`` and ``FB-IoU``.

    Paper: `Hypercorrelation Squeeze for Few-Shot Segmentation
    <https://arxiv.org/abs/2104.01538>`_.

    ``process()`` keeps, per episode, the background/foreground intersection
    and union of ``pred_sem_seg`` against ``gt_sem_seg`` (pixels labelled
    ``ignore_index`` excluded) with the episode's metainfo. ``compute_metrics``
    sums them per class and returns, in percent:

    - ``mIoU``: mean over ``dataset_meta['fold_class_ids']`` of
      ``I_fg[c] / max(U_fg[c], 1)`` (a fold class without episodes counts 0);
    - ``FB-IoU``: mean over {bg, fg} of ``sum_c I[., c] / sum_c U[., c]``.

    When ``dataset_meta`` has no ``fold_class_ids`` the classes seen in the
    episodes are scored, with a warning.

    Args:
        ignore_index (int): Label of ignored ground-truth pixels.
            Defaults to 255.
        output_file (str, optional): JSON file that receives the per-episode
            records after evaluation (on rank 0), to re-score with
            :func:`rescore_episodes`. Defaults to None.
        collect_device (str): Device used to collect results across ranks,
            'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the metric names. Defaults to None,
            so the keys are exactly ``mIoU`` and ``FB-IoU``.
        collect_dir (str, optional): Folder to collect results through when
            ``collect_device='cpu'``. Defaults to None.
    """

    default_prefix: Optional[str] = None

    def __init__(self,
                 ignore_index: int = IGNORE_INDEX,
                 output_file: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.ignore_index = ignore_index
        self.output_file = output_file
        #: The episode records of the last ``compute_metrics`` call (on rank
        #: 0 of a distributed run; empty elsewhere), for callers that need
        #: more than the two scores (``tools/test.py --seeds``).
        self.last_episodes: List[dict] = []

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Store the areas and identity of each episode of a batch.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict | SegDataSample]): Model outputs with
                ``pred_sem_seg``, ``gt_sem_seg`` and the episode metainfo.
        """
        for sample in data_samples:
            class_id = _field(sample, 'class_id')
            episode_idx = _field(sample, 'episode_idx')
            query_name = _field(sample, 'query_name')
            name = (f'episode {episode_idx} (query {query_name!r}, '
                    f'class {class_id})')
            if class_id is None:
                raise KeyError(f'{name}: the data sample has no class_id in '
                               'its metainfo')
            pred = _pixel_data(sample, 'pred_sem_seg', name)
            gt = _pixel_data(sample, 'gt_sem_seg', name)
            areas = banded_intersect_union(
                pred, gt, ignore_index=self.ignore_index, name=name)
            support_names = _field(sample, 'support_names')
            shot = _field(sample, 'shot')
            self.results.append(
                dict(
                    episode_idx=None
                    if episode_idx is None else int(episode_idx),
                    query_name=None if query_name is None else str(query_name),
                    support_names=None if support_names is None else
                    [str(n) for n in support_names],
                    class_id=int(class_id),
                    shot=None if shot is None else int(shot),
                    I_bg=areas[0],
                    I_fg=areas[1],
                    U_bg=areas[2],
                    U_fg=areas[3]))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Reduce the episodes of all ranks to ``mIoU`` and ``FB-IoU``.

        Args:
            results (list[dict]): The records of every episode.

        Returns:
            dict[str, float]: ``{'mIoU': ..., 'FB-IoU': ...}`` in percent.
        """
        logger: MMLogger = MMLogger.get_current_instance()
        meta = self.dataset_meta or {}
        fold_class_ids = meta.get('fold_class_ids')
        if fold_class_ids is None:
            if not results:
                raise ValueError('FewShotMetric got no episode and '
                                 'dataset_meta has no fold_class_ids')
            fold_class_ids = sorted({int(r['class_id']) for r in results})
            print_log(
                'dataset_meta has no fold_class_ids; scoring the classes '
                f'seen in the episodes: {fold_class_ids}',
                logger=logger,
                level=logging.WARNING)
        fold_class_ids = [int(c) for c in fold_class_ids]
        self.last_episodes = list(results)
        acc = accumulate_episodes(results, fold_class_ids)
        metrics = scores_from_accumulated(acc)
        num_scored = int(acc['num_episodes'].sum())
        unseen = int((acc['num_episodes'] == 0).sum())
        if unseen:
            print_log(
                f'{unseen} of {len(fold_class_ids)} classes have no episode '
                'and score 0 IoU: are there too few episodes to cover every '
                'class?',
                logger=logger,
                level=logging.WARNING)
        if num_scored != len(results):
            print_log(
                f'{len(results) - num_scored} of {len(results)} episodes '
                'have a class outside fold_class_ids and are not scored',
                logger=logger,
                level=logging.WARNING)
        self._log_table(acc, fold_class_ids, meta.get('classes'), logger)
        shots = {r.get('shot') for r in results}
        shot = shots.pop() if len(shots) == 1 else None
        print_log(
            format_summary(metrics, num_scored, shot, meta.get('fold')),
            logger=logger)
        if self.output_file:
            fold = meta.get('fold')
            fold = int(fold) if isinstance(fold, np.integer) else fold
            self._dump(results, fold_class_ids, metrics, fold)
            print_log(
                f'per-episode results written to {self.output_file}',
                logger=logger)
        return metrics

    @staticmethod
    def _log_table(acc: Dict[str, np.ndarray], fold_class_ids: List[int],
                   classes: Optional[Sequence[str]], logger: MMLogger) -> None:
        """Log a per-class table: class, episodes, IoU."""
        names = fold_class_names(fold_class_ids, classes)
        table = PrettyTable()
        table.add_column('Class', names)
        table.add_column('Class id', fold_class_ids)
        table.add_column('Episodes', acc['num_episodes'].tolist())
        table.add_column('IoU', [f'{v:.2f}' for v in class_ious(acc)])
        print_log('per class results:', logger=logger)
        print_log('\n' + table.get_string(), logger=logger)

    def _dump(self, results: List[dict], fold_class_ids: List[int],
              metrics: Dict[str, float], fold: Any) -> None:
        """Write the per-episode records to ``self.output_file``.

        A JSON object with ``fold``, ``fold_class_ids``, ``metrics``,
        ``num_episodes``, ``environment`` (the versions and the device that
        decide the numbers, :func:`~hsnet_mm.utils.result_environment`) and
        ``episodes`` (one record a line, by index).
        """
        records = list(results)
        if all(isinstance(r.get('episode_idx'), int) for r in records):
            records.sort(key=lambda r: r['episode_idx'])
        head = json.dumps(
            dict(
                fold=fold,
                fold_class_ids=fold_class_ids,
                metrics=metrics,
                num_episodes=len(records),
                environment=result_environment()))
        lines = ',\n'.join(json.dumps(r) for r in records)
        atomic_write_text(self.output_file,
                          f'{head[:-1]}, "episodes": [\n{lines}\n]}}\n')
