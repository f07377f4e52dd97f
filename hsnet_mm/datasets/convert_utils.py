# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Helpers of ``tools/dataset_converters``: atomic outputs, parallel runs.

Converters write every output with :func:`save_png` (a temporary file moved
over the destination), so an interrupted run leaves only finished files and
a rerun skips them.
"""
import io
import os
from typing import Any, Callable, List, Sequence

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image

from ..utils import atomic_write_bytes


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
        tmp = f'{dst}.tmp{os.getpid()}'
        try:
            os.link(src, tmp)
            os.replace(tmp, dst)
            return dst
        except OSError:
            if os.path.exists(tmp):
                os.remove(tmp)
    with open(src, 'rb') as f:
        return atomic_write_bytes(dst, f.read())


def run_parallel(func: Callable[[Any], Any], tasks: Sequence[Any],
                 nproc: int) -> List[Any]:
    """Run ``func`` on every task with mmengine's progress bar.

    mmengine's ``track_parallel_progress`` with ``nproc`` workers, or
    ``track_progress`` in this process when ``nproc <= 1``.

    Args:
        func (Callable): A picklable function of one task.
        tasks (Sequence): The tasks.
        nproc (int): Worker processes; 1 runs in this process.

    Returns:
        list: The results, in task order.
    """
    tasks = list(tasks)
    if nproc <= 1 or len(tasks) <= 1:
        return track_progress(func, tasks)
    chunksize = max(1, min(64, len(tasks) // (nproc * 8)))
    return track_parallel_progress(
        func, tasks, nproc, chunksize=chunksize, keep_order=True)
