# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A small (or read-only) tmpfs for the full-disk and read-only tests.

Mounting needs root and a kernel that allows it (e.g. not in every
container); where it fails the test is skipped with the reason.
"""
import contextlib
import subprocess
from pathlib import Path
from typing import Iterator

import pytest


@contextlib.contextmanager
def small_tmpfs(path: Path,
                size: str = '1m',
                read_only: bool = False) -> Iterator[Path]:
    """Mount a ``size`` tmpfs on ``path`` for the ``with`` block.

    Args:
        path (Path): An empty folder (created).
        size (str): tmpfs ``size=`` option. Defaults to '1m'.
        read_only (bool): Mount it read-only. Defaults to False.
    """
    path.mkdir(parents=True, exist_ok=True)
    options = f'size={size}' + (',ro' if read_only else '')
    proc = subprocess.run(
        ['mount', '-t', 'tmpfs', '-o', options, 'tmpfs',
         str(path)],
        capture_output=True,
        text=True)
    if proc.returncode:
        pytest.skip(f'cannot mount a {size} tmpfs here (needs root and a '
                    f'kernel that allows it): {proc.stderr.strip()}')
    try:
        yield path
    finally:
        subprocess.run(['umount', str(path)], check=True)
