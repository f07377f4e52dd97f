# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Helpers of ``tools/dataset_converters``: atomic outputs, parallel runs.

Converters write every output with :func:`save_png` (a temporary file moved
over the destination), so an interrupted run leaves only finished files and
a rerun skips them; :func:`clean_temp_files` removes the temporary files
a killed run left. A source file that cannot be read raises
:class:`CorruptFileError` naming it (read it inside :func:`reading`);
``run_parallel(..., skip_corrupt=True)`` skips such files instead and
:func:`report_skipped` lists them at the end.
"""
import contextlib
import io
import os
import os.path as osp
from typing import Any, Callable, Iterator, List, Sequence

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image

from ..utils.cli import UserError
from ..utils.fileio import atomic_write_bytes, remove_temp_files


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
    if nproc < 1:
        raise UserError(f'nproc (worker processes) must be >= 1, got {nproc}')
    tasks = list(tasks)
    if skip_corrupt:
        func = _SkipCorrupt(func)
    if nproc <= 1 or len(tasks) <= 1:
        return track_progress(func, tasks)
    chunksize = max(1, min(64, len(tasks) // (nproc * 8)))
    return track_parallel_progress(
        func, tasks, nproc, chunksize=chunksize, keep_order=True)


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
