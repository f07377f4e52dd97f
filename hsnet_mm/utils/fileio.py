# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Atomic file writes: a reader never sees a half-written file.

Each writer writes a temporary file ``.<name>.<random>.tmp`` in the
destination folder, flushes it to disk, gives it the permissions a plain
``open()`` would (``0o666`` minus the umask; ``mkstemp`` makes it owner-only)
and moves it over the destination with :func:`os.replace`, which is atomic on
POSIX and Windows when both paths are on one file system. A full disk raises
:class:`NoSpaceError` naming the file and the bytes needed, with the partial
file removed and the previous destination untouched.
"""
import errno
import json
import os
import os.path as osp
import re
import shutil
import tempfile
from typing import Any, List, Optional, Union

PathType = Union[str, os.PathLike]

#: Names of the temporary files of the atomic writers (``.<name>.*.tmp``).
TEMP_FILE_PATTERN = re.compile(r'^\..+\.tmp$')


class NoSpaceError(OSError):
    """No space left on the device for a file (``errno.ENOSPC``)."""


def current_umask() -> int:
    """The process umask, read without changing it where possible."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # no read-only query elsewhere: set and restore
    os.umask(mask)
    return mask


def no_space_error(path: PathType,
                   needed: Optional[int],
                   cause: Optional[BaseException] = None,
                   kept: str = '') -> NoSpaceError:
    """A :class:`NoSpaceError` naming ``path``, the bytes needed and free.

    Args:
        path (str | os.PathLike): The file that could not be written.
        needed (int, optional): Its size in bytes, if known.
        cause (BaseException, optional): The original error.
        kept (str): A sentence on what was kept. Defaults to ''.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    try:
        free = f'{shutil.disk_usage(folder).free} bytes are free'
    except OSError:
        free = 'the free space is unknown'
    size = (f'needs {needed} bytes ({needed / 2**20:.1f} MiB)'
            if needed is not None else 'does not fit')
    msg = (f'no space left on device: {path} {size}; {free} in {folder}. '
           f'The partial file was removed.{" " + kept if kept else ""}')
    if cause is not None:
        msg += f' ({cause})'
    return NoSpaceError(errno.ENOSPC, msg)


def fsync_dir(folder: PathType) -> None:
    """Flush a folder's entries (a rename) to disk; a no-op where folders
    cannot be opened (Windows)."""
    try:
        fd = os.open(os.fspath(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_temp_file(tmp_path: PathType, path: PathType) -> str:
    """Flush a finished temporary file and move it over ``path``.

    The file gets the permissions of a plain ``open()`` (``0o666`` minus
    the umask) before the rename.

    Args:
        tmp_path (str | os.PathLike): The finished temporary file, in the
            folder of ``path``.
        path (str | os.PathLike): The destination.

    Returns:
        str: The destination path.
    """
    tmp_path, path = os.fspath(tmp_path), os.fspath(path)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp_path, 0o666 & ~current_umask())
    os.replace(tmp_path, path)
    fsync_dir(osp.dirname(osp.abspath(path)))
    return path


def atomic_write_bytes(path: PathType, data: bytes) -> str:
    """Write ``data`` to ``path`` atomically, creating parent folders.

    Args:
        path (str | os.PathLike): Destination file.
        data (bytes): Content to write.

    Returns:
        str: The destination path.

    Raises:
        NoSpaceError: the disk is full; ``path`` is left as it was.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        commit_temp_file(tmp_path, path)
    except BaseException as e:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            raise no_space_error(path, len(data), e) from e
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


def remove_temp_files(folder: PathType,
                      recursive: bool = True,
                      pattern: 're.Pattern' = TEMP_FILE_PATTERN) -> List[str]:
    """Remove the temporary files that killed atomic writers left.

    Only names of the writers' pattern (``.<name>.<anything>.tmp``) are
    removed; run it where no other writer is busy (at the start of a run).

    Args:
        folder (str | os.PathLike): Where to look; a missing folder has
            none.
        recursive (bool): Search sub-folders too. Defaults to True.
        pattern (re.Pattern): Names to remove. Defaults to
            :data:`TEMP_FILE_PATTERN`.

    Returns:
        list[str]: The removed paths.
    """
    folder = os.fspath(folder)
    removed = []
    for root, dirs, files in os.walk(folder):
        for name in files:
            if pattern.match(name):
                path = osp.join(root, name)
                os.remove(path)
                removed.append(path)
        if not recursive:
            break
    return sorted(removed)


def _nearest_existing(path: str) -> str:
    while not osp.exists(path):
        parent = osp.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def check_writable(*paths: Optional[PathType]) -> None:
    """Check that each path can be written, before any work is done.

    A path that exists must be a writable folder or a writable file; a path
    that does not exist must be creatable: its nearest existing ancestor
    must be a folder that accepts a new file (probed with a temporary file,
    removed at once, so read-only mounts are caught even for root). Nothing
    is created. ``None`` entries are skipped.

    Args:
        *paths (str | os.PathLike | None): Output files or folders.

    Raises:
        PermissionError: a path cannot be written, with the reason.
    """
    for path in paths:
        if path is None:
            continue
        path = osp.abspath(os.fspath(path))
        if osp.isfile(path):
            if not os.access(path, os.W_OK):
                raise PermissionError(f'output {path} is not writable')
            folder = osp.dirname(path)
        else:
            folder = _nearest_existing(path)
            if not osp.isdir(folder):
                raise PermissionError(f'output {path} cannot be created: '
                                      f'{folder} is a file, not a folder')
        try:
            fd, probe = tempfile.mkstemp(
                dir=folder, prefix='.probe.', suffix='.tmp')
        except OSError as e:
            raise PermissionError(
                f'output {path} cannot be written: no file can be created '
                f'in {folder} ({e.strerror or e})') from e
        os.close(fd)
        os.remove(probe)


def check_writable_dirs(*folders: Optional[PathType]) -> None:
    """Check that each output folder can be created or written, before
    any work is done.

    :func:`check_writable` for folders: a path (or any folder above it)
    that exists as something other than a folder -- a file named like the
    output folder -- is refused too, where a write would fail only after
    the work. Nothing is created; ``None`` entries are skipped.

    Args:
        *folders (str | os.PathLike | None): Output folders.

    Raises:
        NotADirectoryError: a folder (or one above it) is a file.
        PermissionError: a folder cannot be created or written.
    """
    for folder in folders:
        if folder is None:
            continue
        path = osp.abspath(os.fspath(folder))
        existing = _nearest_existing(path)
        if not osp.isdir(existing):
            what = ('is a file' if existing == path else
                    f'cannot be created: {existing} is a file')
            raise NotADirectoryError(
                f'output folder {os.fspath(folder)} {what}, not a folder')
        check_writable(path)
