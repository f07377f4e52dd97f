# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""A read-only folder for the output-check tests.

``chmod 555`` where it denies writes (not to root, who writes anyway);
otherwise a read-only tmpfs (:func:`tests.mounts.small_tmpfs`, which needs
root and skips the test where mounting fails).
"""
import contextlib
import os
import stat
from pathlib import Path
from typing import Iterator

from tests.mounts import small_tmpfs


@contextlib.contextmanager
def read_only_folder(path: Path) -> Iterator[Path]:
    """A folder at ``path`` that no file can be created in, for the block.

    Args:
        path (Path): A folder to create (it must not exist).
    """
    path.mkdir(parents=True)
    path.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP
               | stat.S_IROTH | stat.S_IXOTH)
    try:
        if not os.access(path, os.W_OK):
            yield path
            return
    finally:
        path.chmod(stat.S_IRWXU)
    with small_tmpfs(path, read_only=True) as mounted:
        yield mounted
