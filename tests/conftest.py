# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Shared test helpers: where ``../shared`` (the reference material) is."""
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = Path(
    os.environ.get('HSNET_SHARED_DIR', REPO_ROOT.parent / 'shared'))
REFERENCE_DIR = SHARED_DIR / 'reference' / 'hsnet_official'


def require_reference(*relative: str) -> Path:
    """Path inside ``../shared/reference/hsnet_official``; skip if absent."""
    path = REFERENCE_DIR.joinpath(*relative)
    if not path.exists():
        pytest.skip(f'{path} is absent: the official reference material '
                    '(../shared beside the repository) is not available')
    return path


@pytest.fixture
def reference_dir() -> Path:
    """The official reference folder; skips the test when it is absent."""
    return require_reference()
