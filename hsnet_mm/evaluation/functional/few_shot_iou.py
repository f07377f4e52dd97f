# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""HSNet's few-shot scores as pure functions.

Written from the protocol of juhongm999/hsnet (``common/evaluation.py`` and
``common/logger.py::AverageMeter``): every episode contributes a 2-bin
(background, foreground) intersection and union to the column of its class;
then

- ``mIoU = 100 * mean_c I_fg[c] / max(U_fg[c], 1)`` over the fold's classes
  (a fold class without any episode scores 0), and
- ``FB-IoU = 100 * mean_{bg, fg} sum_c I[., c] / sum_c U[., c]`` with the
  sums over the fold's classes.

Both are per-class accumulated scores, not per-episode averages. The
functions here score the per-episode records that :class:`FewShotMetric`
keeps (and writes with ``output_file``), so a user can re-score them.
"""
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ...structures import IGNORE_INDEX

#: Keys of one per-episode record.
EPISODE_RECORD_KEYS = ('episode_idx', 'query_name', 'support_names',
                       'class_id', 'shot', 'I_bg', 'I_fg', 'U_bg', 'U_fg')

ArrayLike = Union[torch.Tensor, np.ndarray]
Records = Sequence[Mapping[str, Any]]


def episode_intersect_union(pred: ArrayLike,
                            gt: ArrayLike,
                            ignore_index: int = IGNORE_INDEX,
                            name: str = 'episode') -> Tuple[int, ...]:
    """Background/foreground intersection and union of one episode.

    Pixels where ``gt == ignore_index`` count in neither area (the official
    code sets the prediction to 255 there).

    Args:
        pred (Tensor | ndarray): Predicted mask, 0/1 of any int or float
            dtype, shape (H, W) or (1, H, W).
        gt (Tensor | ndarray): Ground-truth mask with values 0, 1 and
            ``ignore_index``, same shape as ``pred``.
        ignore_index (int): Label of ignored pixels. Defaults to 255.
        name (str): How error messages name the episode.
            Defaults to 'episode'.

    Returns:
        tuple[int, int, int, int]: ``(I_bg, I_fg, U_bg, U_fg)`` pixel counts.

    Raises:
        ValueError: the shapes differ, ``pred`` holds a value other than 0/1
            or ``gt`` a value other than 0/1/``ignore_index``.
    """
    pred = torch.as_tensor(pred).detach().cpu()
    gt = torch.as_tensor(gt).detach().cpu()
    if pred.dim() == 3 and pred.shape[0] == 1:
        pred = pred[0]
    if gt.dim() == 3 and gt.shape[0] == 1:
        gt = gt[0]
    if pred.shape != gt.shape or pred.dim() != 2:
        raise ValueError(
            f'{name}: pred_sem_seg has shape {tuple(pred.shape)} but '
            f'gt_sem_seg has shape {tuple(gt.shape)}; both must be the same '
            '(H, W) or (1, H, W)')
    pred_fg = pred == 1
    pred_bg = pred == 0
    bad = ~(pred_fg | pred_bg)
    if bad.any():
        values = torch.unique(pred[bad])[:5].tolist()
        raise ValueError(f'{name}: pred_sem_seg must hold only 0 and 1, '
                         f'found {values}')
    gt_fg = gt == 1
    gt_bg = gt == 0
    bad = ~(gt_fg | gt_bg | (gt == ignore_index))
    if bad.any():
        values = torch.unique(gt[bad])[:5].tolist()
        raise ValueError(f'{name}: gt_sem_seg must hold only 0, 1 and '
                         f'{ignore_index}, found {values}')
    valid = gt != ignore_index
    pred_fg &= valid
    pred_bg &= valid
    inter_bg = int((pred_bg & gt_bg).sum())
    inter_fg = int((pred_fg & gt_fg).sum())
    union_bg = int(pred_bg.sum()) + int(gt_bg.sum()) - inter_bg
    union_fg = int(pred_fg.sum()) + int(gt_fg.sum()) - inter_fg
    return inter_bg, inter_fg, union_bg, union_fg


def accumulate_episodes(
        records: Records,
        fold_class_ids: Sequence[int]) -> Dict[str, np.ndarray]:
    """Sum the episodes' areas per class of the fold.

    Episodes whose ``class_id`` is not a fold class are left out.

    Args:
        records (Sequence[Mapping]): Per-episode records with at least
            ``class_id``, ``I_bg``, ``I_fg``, ``U_bg`` and ``U_fg``.
        fold_class_ids (Sequence[int]): The classes to score, in order.

    Returns:
        dict: ``intersection`` and ``union``, int64 arrays of shape (2, C)
        (row 0 background, row 1 foreground, column i for
        ``fold_class_ids[i]``), and ``num_episodes``, int64 (C,).
    """
    column = {int(c): i for i, c in enumerate(fold_class_ids)}
    if len(column) != len(fold_class_ids):
        raise ValueError(f'fold_class_ids has duplicates: {fold_class_ids}')
    inter = np.zeros((2, len(column)), dtype=np.int64)
    union = np.zeros((2, len(column)), dtype=np.int64)
    count = np.zeros(len(column), dtype=np.int64)
    for record in records:
        i = column.get(int(record['class_id']))
        if i is None:
            continue
        inter[:, i] += (int(record['I_bg']), int(record['I_fg']))
        union[:, i] += (int(record['U_bg']), int(record['U_fg']))
        count[i] += 1
    return dict(intersection=inter, union=union, num_episodes=count)


def class_ious(accumulated: Mapping[str, np.ndarray]) -> np.ndarray:
    """Foreground IoU (%) of each fold class from accumulated areas.

    Args:
        accumulated (Mapping): Output of :func:`accumulate_episodes`.

    Returns:
        ndarray: float64 (C,), ``100 * I_fg / max(U_fg, 1)``.
    """
    inter_fg = accumulated['intersection'][1].astype(np.float64)
    union_fg = np.maximum(accumulated['union'][1], 1)
    return 100.0 * inter_fg / union_fg


def scores_from_accumulated(
        accumulated: Mapping[str, np.ndarray]) -> Dict[str, float]:
    """``mIoU`` and ``FB-IoU`` (%) from accumulated areas.

    Args:
        accumulated (Mapping): Output of :func:`accumulate_episodes`.

    Returns:
        dict[str, float]: ``{'mIoU': ..., 'FB-IoU': ...}``.
    """
    miou = float(class_ious(accumulated).mean())
    inter = accumulated['intersection'].sum(axis=1).astype(np.float64)
    union = np.maximum(accumulated['union'].sum(axis=1), 1)
    fb_iou = float((100.0 * inter / union).mean())
    return {'mIoU': miou, 'FB-IoU': fb_iou}


def load_episode_records(
        path: Union[str, os.PathLike]) -> Tuple[List[dict], dict]:
    """Read a per-episode file written by :class:`FewShotMetric`.

    Args:
        path (str | os.PathLike): JSON file: either a list of records or a
            dict with an ``episodes`` list (and optional ``fold_class_ids``,
            ``fold``, ``metrics``).

    Returns:
        tuple[list[dict], dict]: The records and the other top-level keys.
    """
    with open(path, encoding='utf-8') as f:
        data = json.load(f)
    if isinstance(data, list):
        return data, {}
    if not isinstance(data, dict) or 'episodes' not in data:
        raise ValueError(f'{os.fspath(path)} is not a per-episode file: '
                         'expected a list or a dict with an "episodes" key')
    meta = {k: v for k, v in data.items() if k != 'episodes'}
    return data['episodes'], meta


def rescore_episodes(
        path_or_records: Union[str, os.PathLike, Records],
        fold_class_ids: Optional[Sequence[int]] = None) -> Dict[str, float]:
    """Compute ``mIoU`` and ``FB-IoU`` from per-episode records.

    Args:
        path_or_records (str | os.PathLike | Sequence[Mapping]): A file
            written by ``FewShotMetric(output_file=...)`` or the records.
        fold_class_ids (Sequence[int], optional): The classes to score.
            Defaults to the file's ``fold_class_ids`` when reading a file.

    Returns:
        dict[str, float]: ``{'mIoU': ..., 'FB-IoU': ...}`` in percent.

    Raises:
        ValueError: ``fold_class_ids`` is neither given nor in the file, or
            is empty.
    """
    if isinstance(path_or_records, (str, os.PathLike)):
        records, meta = load_episode_records(path_or_records)
        if fold_class_ids is None:
            fold_class_ids = meta.get('fold_class_ids')
    else:
        records = path_or_records
    if not fold_class_ids:
        raise ValueError('rescore_episodes needs fold_class_ids (the classes '
                         f'to score), got {fold_class_ids!r}')
    return scores_from_accumulated(
        accumulate_episodes(records, fold_class_ids))


def format_summary(metrics: Mapping[str, float],
                   num_episodes: int,
                   shot: Optional[int] = None,
                   fold: Optional[int] = None) -> str:
    """One line that sums up an evaluation.

    Example: ``'mIoU: 64.30  FB-IoU: 76.52  (1000 episodes, 1-shot,
    fold 0)'``.

    Args:
        metrics (Mapping[str, float]): With keys ``mIoU`` and ``FB-IoU``.
        num_episodes (int): Number of episodes evaluated.
        shot (int, optional): K; omitted when None. Defaults to None.
        fold (int, optional): The fold; omitted when None. Defaults to None.

    Returns:
        str: The summary line.
    """
    parts = [f'{num_episodes} episode' + ('' if num_episodes == 1 else 's')]
    if shot is not None:
        parts.append(f'{shot}-shot')
    if fold is not None:
        parts.append(f'fold {fold}')
    return (f"mIoU: {metrics['mIoU']:.2f}  FB-IoU: {metrics['FB-IoU']:.2f}"
            f"  ({', '.join(parts)})")
