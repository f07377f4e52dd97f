# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The official episode loops written out with the global ``np.random``
(juhongm999/hsnet ``data/pascal.py``, ``data/coco.py``), the oracle the
replay of ``hsnet_mm.datasets.episode_sampling`` is checked against. The
global RNG state is restored afterwards."""
from typing import Dict, List, Sequence

import numpy as np


def _supports(members: Sequence[str], query: str, shot: int) -> List[str]:
    """``shot`` draws from the class, redrawing the query."""
    supports = []
    while True:
        pick = np.random.choice(members, 1, replace=False)[0]
        if pick != query:
            supports.append(pick)
        if len(supports) == shot:
            return supports


def official_pascal(records: Sequence[dict], num: int, shot: int,
                    seed: int) -> list:
    """PASCAL/FSS ``sample_episode`` after ``np.random.seed(seed)``: the
    queries in pool order, then their supports."""
    classwise: Dict[int, List[str]] = {}
    for r in records:
        classwise.setdefault(r['class_id'], []).append(r['name'])
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        episodes = []
        for idx in range(num):
            rec = records[idx % len(records)]
            query, c = rec['name'], rec['class_id']
            episodes.append((c, query, _supports(classwise[c], query, shot)))
        return episodes
    finally:
        np.random.set_state(state)


def official_coco(classwise: Dict[int, List[str]], class_ids: Sequence[int],
                  num: int, shot: int, seed: int) -> list:
    """COCO ``sample_episode`` after ``np.random.seed(seed)``: a class, then
    a query, then supports."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        episodes = []
        for _ in range(num):
            c = np.random.choice(class_ids, 1, replace=False)[0]
            query = np.random.choice(classwise[c], 1, replace=False)[0]
            episodes.append((int(c), query, _supports(classwise[c], query,
                                                      shot)))
        return episodes
    finally:
        np.random.set_state(state)
