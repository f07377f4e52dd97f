# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Pure functions that draw few-shot episodes.

Two samplers live here:

- the *default* one draws every episode from its own
  ``np.random.Generator`` seeded by ``(seed, epoch, index)``, so an episode
  is the same whatever the worker count, rank or batch size;
- the *official* replay draws episodes 0..N-1 in order from one legacy
  ``np.random.RandomState(seed)``, whose stream equals the global
  ``np.random`` after ``np.random.seed(seed)``. Each draw is
  ``choice(seq, 1, replace=False)`` as in juhongm999/hsnet
  (``data/{pascal,coco,fss}.py``, paper https://arxiv.org/abs/2104.01538),
  which permutes the whole sequence and so consumes the stream differently
  from ``randint`` or ``replace=True``.
"""
from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np

from ..utils.cli import UserError

#: ``(class_id, query_name, support_names)``.
Episode = Tuple[int, str, List[str]]


def episode_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The generator of one episode, a pure function of its arguments.

    Args:
        seed (int): The dataset's episode seed.
        epoch (int): Training epoch (0 for val/test episodes).
        index (int): Episode index within the epoch.

    Returns:
        np.random.Generator: A fresh PCG64 generator.
    """
    return np.random.default_rng([int(seed), int(epoch), int(index)])


def draw_support_positions(rng: np.random.Generator, num_members: int,
                           query_pos: int, shot: int) -> np.ndarray:
    """Draw ``shot`` distinct positions of ``range(num_members)``.

    The query's position is never drawn. When fewer than ``shot`` other
    members exist, positions repeat (they are still never the query).

    Args:
        rng (np.random.Generator): The episode's generator.
        num_members (int): Number of distinct images of the class.
        query_pos (int): Position of the query among them, or -1 when the
            query is not one of them.
        shot (int): Number of supports K.

    Returns:
        np.ndarray: ``shot`` int64 positions.

    Raises:
        ValueError: no member other than the query exists.
    """
    others = num_members - (1 if 0 <= query_pos < num_members else 0)
    if others < 1:
        raise UserError(f'a class needs an image besides the query to draw '
                        f'supports from, it has {num_members}')
    picks = rng.choice(others, size=shot, replace=others < shot)
    if 0 <= query_pos < num_members:
        picks = picks + (picks >= query_pos)
    return picks.astype(np.int64)


def legacy_choice_index(rs: np.random.RandomState, length: int) -> int:
    """Index of ``rs.choice(seq, 1, replace=False)[0]`` in ``seq``.

    ``RandomState.choice`` draws from an int ``length`` exactly as from a
    sequence of that length (both permute ``range(length)``), so the stream
    advances the same way without building an array of names.

    Args:
        rs (np.random.RandomState): The legacy generator.
        length (int): Length of the sequence.

    Returns:
        int: The drawn index.
    """
    return int(rs.choice(length, 1, replace=False)[0])


def official_supports(rs: np.random.RandomState, candidates: Sequence[str],
                      query: str, shot: int) -> List[str]:
    """Draw supports one at a time, redrawing while a draw equals the query.

    Supports may repeat across shots, as in the official code.

    Args:
        rs (np.random.RandomState): The legacy generator.
        candidates (Sequence[str]): The names to draw from, in the official
            order (split-file order, or ``1.jpg``..``10.jpg`` for FSS).
        query (str): The query name.
        shot (int): Number of supports K.

    Returns:
        list[str]: K support names.

    Raises:
        ValueError: every candidate equals the query (the official loop
            would never end).
    """
    if all(c == query for c in candidates):
        raise UserError(f'no support candidate differs from the query '
                        f'{query!r} (candidates: {list(candidates)[:5]})')
    supports: List[str] = []
    while len(supports) < shot:
        pick = candidates[legacy_choice_index(rs, len(candidates))]
        if pick != query:
            supports.append(pick)
    return supports


def group_by_class(
        classes: np.ndarray, name_ids: np.ndarray,
        class_ids: Sequence[int]) -> Tuple[Dict[int, np.ndarray], np.ndarray]:
    """Index a pool of (image, class) records by class.

    Args:
        classes (np.ndarray): (N, ) class id of each record.
        name_ids (np.ndarray): (N, ) image id of each record (same image,
            same id).
        class_ids (Sequence[int]): The classes to index.

    Returns:
        tuple: ``members`` ({class: record indices of its distinct images,
        first occurrences in pool order}) and ``positions`` ((N, ) position
        of each record's image in its class's members; -1 for records of
        other classes).
    """
    members = {}
    positions = np.full(len(classes), -1, dtype=np.int64)
    for c in class_ids:
        idx = np.flatnonzero(classes == c)
        _, first, inv = np.unique(
            name_ids[idx], return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        members[c] = idx[first[order]]
        positions[idx] = rank[inv.reshape(-1)]
    return members, positions


def replay_official(
        records: Sequence[dict], class_ids: Sequence[int], num: int, shot: int,
        class_first: bool, seed: int,
        candidates: Callable[[int, str, List[str]],
                             List[str]]) -> List[Episode]:
    """Episodes 0..num-1 of the official code, in order.

    Args:
        records (Sequence[dict]): The pool (``name``, ``class_id``) in split
            file order.
        class_ids (Sequence[int]): The split's classes, official order.
        num (int): Number of episodes.
        shot (int): Number of supports K.
        class_first (bool): COCO: draw a class, then a query. Else
            PASCAL/FSS: the query is record ``idx % len(records)``.
        seed (int): Seed of ``np.random.RandomState`` (official: 0).
        candidates (Callable): ``(class_id, query, names of the class in
            file order) -> names`` the supports are drawn from.

    Returns:
        list[tuple]: ``(class_id, query, supports)`` per episode.
    """
    by_class: Dict[int, List[str]] = {c: [] for c in class_ids}
    for rec in records:
        by_class[rec['class_id']].append(rec['name'])
    rs = np.random.RandomState(seed)
    episodes = []
    for idx in range(num):
        if class_first:
            c = class_ids[legacy_choice_index(rs, len(class_ids))]
            query = by_class[c][legacy_choice_index(rs, len(by_class[c]))]
        else:
            rec = records[idx % len(records)]
            c, query = rec['class_id'], rec['name']
        supports = official_supports(rs, candidates(c, query, by_class[c]),
                                     query, shot)
        episodes.append((int(c), query, supports))
    return episodes
