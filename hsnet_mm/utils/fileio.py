# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Atomic file writes: a reader never sees a half-written file.

Each writer writes a temporary file in the destination folder, then moves it
over the destination with :func:`os.replace`, which is atomic on POSIX and
Windows when both paths are on one file system.
"""
import json
import os
import os.path as osp
import tempfile
from typing import Any, Union

PathType = Union[str, os.PathLike]


def atomic_write_bytes(path: PathType, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically, creating parent folders.

    Args:
        path (str | os.PathLike): Destination file.
        data (bytes): Content to write.

    Returns:
        str: The destination path.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    try:
        # mkstemp creates 0600 files; give the usual 0666 & ~umask instead
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    return path


def atomic_write_text(path: PathType, text: str) -> str:
    """Write ``text`` (UTF-8) to ``path`` atomically.

    Args:
        path (str | os.PathLike): Destination file.
        text (str): Content to write.

    Returns:
        str: The destination path.
    """
    return atomic_write_bytes(path, text.encode('utf-8'))


def atomic_dump_json(path: PathType, obj: Any, indent: int = 1) -> str:
    """Serialise ``obj`` as JSON and write it to ``path`` atomically.

    Args:
        path (str | os.PathLike): Destination file.
        obj (Any): A JSON-serialisable object.
        indent (int): JSON indentation. Defaults to 1.

    Returns:
        str: The destination path.
    """
    return atomic_write_text(path, json.dumps(obj, indent=indent) + '\n')
