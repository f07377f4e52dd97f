# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Helpers of ``tools/dataset_converters``: atomic outputs, parallel runs.

Converters write every output with :func:`save_png` (a temporary file moved
over the destination), so an interrupted run leaves only finished files and
a rerun skips them; :func:`clean_temp_files` removes the temporary files
a killed run left. :func:`check_folders` refuses bad folder arguments
before any work. A source file that cannot be read raises
:class:`CorruptFileError` naming it (read it inside :func:`reading`);
``run_parallel(..., skip_corrupt=True)`` skips such files instead and
:func:`report_skipped` lists them at the end.
"""
import contextlib
import io
import os
import os.path as osp
from typing import Any, Callable, Iterator, List, Optional, Sequence

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image

from ..utils.cli import UserError
from ..utils.fileio import (atomic_write_bytes, check_writable_dirs,
                            remove_temp_files)


class CorruptFileError(ValueError):
    """A source file of a converter cannot be read or decoded."""


class Skipped:
    """The result of a task whose source file was corrupt.

    Args:
        message (str): The error, naming the file.
    """

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f'Skipped({self.message!r})'


@contextlib.contextmanager
def reading(path: str) -> Iterator[None]:
    """Turn any error raised inside into a :class:`CorruptFileError`
    naming ``path``.

    Args:
        path (str): The source file being read.
    """
    try:
        yield
    except CorruptFileError:
        raise
    except Exception as e:
        raise CorruptFileError(
            f'cannot read {path}: {type(e).__name__}: {e}') from e


def save_png(path: str, array: np.ndarray) -> str:
    """Write a uint8 (H, W) or (H, W, 3) array as PNG, atomically.

    Args:
        path (str): Destination; parent folders are created.
        array (np.ndarray): The image.

    Returns:
        str: ``path``.
    """
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(
        buf, format='PNG')
    return atomic_write_bytes(path, buf.getvalue())


def copy_file(src: str, dst: str, link: bool = False) -> str:
    """Copy (or hard-link) ``src`` to ``dst`` atomically.

    Args:
        src (str): Source file (never modified).
        dst (str): Destination; parent folders are created.
        link (bool): Hard-link instead of copying when possible.

    Returns:
        str: ``dst``.
    """
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    if link:
        tmp = osp.join(
            osp.dirname(osp.abspath(dst)),
            f'.{osp.basename(dst)}.{os.getpid()}.tmp')
        try:
            os.link(src, tmp)
            os.replace(tmp, dst)
            return dst
        except OSError:
            if os.path.exists(tmp):
                os.remove(tmp)
    with open(src, 'rb') as f:
        return atomic_write_bytes(dst, f.read())


class _SkipCorrupt:
    """``func`` returning :class:`Skipped` on a :class:`CorruptFileError`
    (a picklable wrapper for worker processes)."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __call__(self, task: Any) -> Any:
        try:
            return self.func(task)
        except CorruptFileError as e:
            return Skipped(str(e))


def check_nproc(nproc: int) -> int:
    """Refuse fewer than one worker process (``--nproc``).

    Returns:
        int: ``nproc``.
    """
    if nproc < 1:
        raise UserError(f'nproc (worker processes) must be >= 1, got {nproc}')
    return nproc


def run_parallel(func: Callable[[Any], Any],
                 tasks: Sequence[Any],
                 nproc: int,
                 skip_corrupt: bool = False) -> List[Any]:
    """Run ``func`` on every task with mmengine's progress bar.

    mmengine's ``track_parallel_progress`` with ``nproc`` workers, or
    ``track_progress`` in this process when ``nproc <= 1``.

    Args:
        func (Callable): A picklable function of one task.
        tasks (Sequence): The tasks.
        nproc (int): Worker processes; 1 runs in this process.
        skip_corrupt (bool): A task raising :class:`CorruptFileError`
            returns :class:`Skipped` instead of stopping the run. Defaults
            to False.

    Returns:
        list: The results, in task order.
    """
    check_nproc(nproc)
    tasks = list(tasks)
    if skip_corrupt:
        func = _SkipCorrupt(func)
    if nproc <= 1 or len(tasks) <= 1:
        return track_progress(func, tasks)
    chunksize = max(1, min(64, len(tasks) // (nproc * 8)))
    return track_parallel_progress(
        func, tasks, nproc, chunksize=chunksize, keep_order=True)


def check_folders(src: str,
                  out_dirs: Sequence[Optional[str]],
                  sources: Sequence[str] = (),
                  src_arg: str = 'SRC',
                  out_inside_src: bool = True) -> None:
    """Refuse bad folder arguments of a converter before any work.

    ``src`` must be a folder; each output folder must differ from ``src``
    and from the folders in ``sources`` (also through a symbolic link,
    compared by real path), must not be a file nor lie under one, and must
    be writable (:func:`~hsnet_mm.utils.fileio.check_writable_dirs`).

    Args:
        src (str): The input folder.
        out_dirs (Sequence[str | None]): The output folders (None: skipped).
        sources (Sequence[str]): More folders holding source files.
        src_arg (str): How the help names ``src``. Defaults to 'SRC'.
        out_inside_src (bool): Whether an output folder may lie inside
            ``src``. Defaults to True.

    Raises:
        FileNotFoundError: ``src`` is missing.
        NotADirectoryError: ``src`` or an output is a file.
        UserError: an output folder is a source folder.
        PermissionError: an output folder cannot be written.
    """
    if not osp.exists(src):
        raise FileNotFoundError(f'{src} is not a folder ({src_arg})')
    if not osp.isdir(src):
        raise NotADirectoryError(f'{src} is not a folder ({src_arg}) but a '
                                 'file')
    inputs = [osp.realpath(f) for f in (src, *sources)]
    for out in out_dirs:
        if out is None:
            continue
        real = osp.realpath(out)
        if real in inputs:
            raise UserError(f'--out-dir {out} must differ from {src_arg} and '
                            f'the source folders (it is {real}; sources are '
                            'never modified)')
        if not out_inside_src and real.startswith(inputs[0] + os.sep):
            raise UserError(f'--out-dir {out} must not lie inside {src_arg} '
                            f'{src} (a rerun would read it as input)')
    check_writable_dirs(*out_dirs)


def report_skipped(results: Sequence[Any]) -> List[Any]:
    """Print the files :func:`run_parallel` skipped; return the others.

    Args:
        results (Sequence): Results of ``run_parallel``.

    Returns:
        list: The results that are not :class:`Skipped`.
    """
    skipped = [r.message for r in results if isinstance(r, Skipped)]
    if skipped:
        print(f'warning: {len(skipped)} corrupt source file(s) skipped:')
        for message in skipped:
            print(f'  {message}')
    return [r for r in results if not isinstance(r, Skipped)]


def count_skipped(results: Sequence[Any]) -> int:
    """The number of :class:`Skipped` (corrupt) results of
    :func:`run_parallel`, for the converters' summary line."""
    return sum(isinstance(r, Skipped) for r in results)


def clean_temp_files(folder: str) -> List[str]:
    """Remove the temporary files a killed converter left in ``folder``.

    Args:
        folder (str): An output folder (searched recursively).

    Returns:
        list[str]: The removed paths (also reported).
    """
    removed = remove_temp_files(folder) if osp.isdir(folder) else []
    if removed:
        print(f'removed {len(removed)} unfinished temporary file(s) of an '
              f'interrupted run in {folder}')
    return removed
