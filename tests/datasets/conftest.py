# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Fixtures of the dataset tests (the data trees are in ``tests/conftest.py``).
"""
from typing import List

import pytest

import hsnet_mm.datasets  # noqa: F401  (registers the datasets)
from tests.datasets.trees import episode_key
from tests.helpers import official_split_dir


@pytest.fixture
def test_pipeline() -> List[dict]:
    """Load, resize to 32 x 32, pack."""
    return [
        dict(type='LoadEpisode'),
        dict(type='ResizeEpisode', scale=(32, 32)),
        dict(type='PackEpisodeInputs')
    ]


@pytest.fixture
def episode_of():
    """The :func:`episode_key` helper."""
    return episode_key


@pytest.fixture
def official_splits():
    """The :func:`official_split_dir` helper."""
    return official_split_dir
