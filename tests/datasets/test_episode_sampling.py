# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The pure episode samplers: per-episode generators and the official
replay, checked against the official loops written out with the global
``np.random`` (juhongm999/hsnet ``data/pascal.py``, ``data/coco.py``)."""
import numpy as np
import pytest

from hsnet_mm.datasets.episode_sampling import (draw_support_positions,
                                                episode_rng, group_by_class,
                                                legacy_choice_index,
                                                official_supports,
                                                replay_official)
from tests.datasets.official_loops import official_coco, official_pascal

#: A pool in split-file order: 3 classes, image ``b`` in two classes.
RECORDS = [
    dict(name='a', class_id=0),
    dict(name='b', class_id=0),
    dict(name='c', class_id=1),
    dict(name='b', class_id=1),
    dict(name='d', class_id=0),
    dict(name='e', class_id=2),
    dict(name='f', class_id=2),
    dict(name='g', class_id=1),
]


def all_names(class_id, query, names):
    return names


def test_episode_rng_is_a_pure_function_of_its_arguments():
    draw = [episode_rng(3, 1, 7).random(4) for _ in range(2)]
    assert np.array_equal(*draw)
    others = [
        episode_rng(*a).random(4)
        for a in [(4, 1, 7), (3, 2, 7), (3, 1, 8), (3, 7, 1)]
    ]
    assert all(not np.array_equal(draw[0], o) for o in others)
    assert isinstance(episode_rng(0, 0, 0), np.random.Generator)


@pytest.mark.parametrize('query_pos', [0, 3, 9])
def test_supports_are_distinct_and_never_the_query(query_pos):
    for i in range(50):
        picks = draw_support_positions(episode_rng(0, 0, i), 10, query_pos, 5)
        assert picks.dtype == np.int64 and len(picks) == 5
        assert len(set(picks.tolist())) == 5
        assert query_pos not in picks
        assert picks.min() >= 0 and picks.max() < 10


def test_supports_repeat_when_the_class_is_small():
    seen = set()
    for i in range(30):
        picks = draw_support_positions(episode_rng(0, 0, i), 3, 1, 5)
        assert len(picks) == 5 and 1 not in picks
        seen |= set(picks.tolist())
    assert seen == {0, 2}


def test_a_query_outside_the_members_may_be_any_of_them():
    seen = set()
    for i in range(40):
        picks = draw_support_positions(episode_rng(1, 0, i), 4, -1, 2)
        assert len(set(picks.tolist())) == 2
        seen |= set(picks.tolist())
    assert seen == {0, 1, 2, 3}


@pytest.mark.parametrize('num_members,query_pos', [(1, 0), (0, -1)])
def test_no_support_to_draw_is_an_error(num_members, query_pos):
    with pytest.raises(ValueError, match='besides the query'):
        draw_support_positions(episode_rng(0, 0, 0), num_members, query_pos, 1)


def test_legacy_choice_index_draws_and_advances_as_choice_of_names():
    names = [f'img{i}' for i in range(13)]
    ours, theirs = np.random.RandomState(5), np.random.RandomState(5)
    for _ in range(20):
        index = legacy_choice_index(ours, len(names))
        assert names[index] == theirs.choice(names, 1, replace=False)[0]
    assert ours.randint(1 << 30) == theirs.randint(1 << 30)


def test_official_supports_redraw_the_query():
    candidates = ['q', 'x', 'y']
    rs = np.random.RandomState(0)
    supports = official_supports(rs, candidates, 'q', 8)
    assert len(supports) == 8 and 'q' not in supports
    assert len(set(supports)) < 8  # repeats across shots, as official


def test_official_supports_refuse_an_endless_loop():
    with pytest.raises(ValueError, match='no support candidate differs'):
        official_supports(np.random.RandomState(0), ['q', 'q'], 'q', 1)


def test_group_by_class_keeps_first_occurrences_in_pool_order():
    classes = np.array([r['class_id'] for r in RECORDS])
    name_ids = np.array([ord(r['name']) for r in RECORDS])
    members, positions = group_by_class(classes, name_ids, [0, 1])
    assert members[0].tolist() == [0, 1, 4]  # a, b, d
    assert members[1].tolist() == [2, 3, 7]  # c, b, g
    assert positions.tolist() == [0, 1, 0, 1, 2, -1, -1, 2]
    # a repeated record of one image shares its position
    classes = np.array([0, 0, 0])
    members, positions = group_by_class(classes, np.array([7, 5, 7]), [0])
    assert members[0].tolist() == [0, 1]
    assert positions.tolist() == [0, 1, 0]


@pytest.mark.parametrize('shot', [1, 5])
@pytest.mark.parametrize('seed', [0, 3])
def test_replay_equals_the_official_pascal_loop(shot, seed):
    ours = replay_official(RECORDS, [0, 1, 2], 20, shot, False, seed,
                           all_names)
    assert ours == official_pascal(RECORDS, 20, shot, seed)
    # the query cycles through the pool
    assert [q for _, q, _ in ours[:9]] == [r['name'] for r in RECORDS] + ['a']


@pytest.mark.parametrize('shot', [1, 5])
def test_replay_equals_the_official_coco_loop(shot):
    class_ids = [2, 0, 1]  # the official order, not sorted
    ours = replay_official(RECORDS, class_ids, 25, shot, True, 0, all_names)
    classwise = {c: [] for c in class_ids}
    for r in RECORDS:
        classwise[r['class_id']].append(r['name'])
    assert ours == official_coco(classwise, class_ids, 25, shot, 0)
    assert {c for c, _, _ in ours} == {0, 1, 2}


def test_replay_draws_supports_from_the_given_candidates():
    """FSS: the supports come from fixed names, not the class's records."""

    def fss_names(class_id, query, names):
        return [f'{i}.jpg' for i in range(1, 11)]

    episodes = replay_official(RECORDS, [0, 1, 2], 8, 3, False, 0, fss_names)
    for _, query, supports in episodes:
        assert len(supports) == 3
        assert all(s.endswith('.jpg') and s != query for s in supports)


def test_replay_is_deterministic_and_seeded():
    a = replay_official(RECORDS, [0, 1, 2], 30, 1, True, 0, all_names)
    assert a == replay_official(RECORDS, [0, 1, 2], 30, 1, True, 0, all_names)
    assert a != replay_official(RECORDS, [0, 1, 2], 30, 1, True, 1, all_names)
