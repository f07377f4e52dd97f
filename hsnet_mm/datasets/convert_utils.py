# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Helpers of ``tools/dataset_converters``: atomic outputs, parallel runs.

Converters write every output with :func:`save_png` (a temporary file moved
over the destination), so an interrupted run leaves only finished files and
a rerun skips them.
"""
import io
import multiprocessing
import os
from typing import Any, Callable, List, Sequence

import numpy as np
from PIL import Image

from hsnet_mm.utils.fileio import atomic_write_bytes


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


def run_parallel(func: Callable[[Any], Any], tasks: Sequence[Any], nproc: int,
                 desc: str) -> List[Any]:
    """Run ``func`` on every task with a progress bar.

    Args:
        func (Callable): A picklable function of one task.
        tasks (Sequence): The tasks.
        nproc (int): Worker processes; 1 runs in this process.
        desc (str): Progress bar label.

    Returns:
        list: The results, in task order.
    """
    from tqdm import tqdm
    if nproc <= 1 or len(tasks) <= 1:
        return [func(t) for t in tqdm(tasks, desc=desc)]
    chunk = max(1, min(64, len(tasks) // (nproc * 8)))
    with multiprocessing.Pool(nproc) as pool:
        return list(
            tqdm(
                pool.imap(func, tasks, chunksize=chunk),
                total=len(tasks),
                desc=desc))
