# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Builders of the API / demo tests: a tiny model, its files, images."""
from pathlib import Path
from typing import Tuple

import numpy as np
import torch
from mmengine.config import Config

from tests.helpers import tiny_hsnet_cfg

#: Network input size of the tiny config (non-square on purpose).
INPUT_HW = (48, 64)


def tiny_config() -> Config:
    """A tiny HSNet with a test pipeline resizing to ``INPUT_HW``."""
    pipeline = [
        dict(type='LoadEpisode'),
        dict(type='ResizeEpisode', scale=(INPUT_HW[1], INPUT_HW[0])),
        dict(type='PackEpisodeInputs'),
    ]
    return Config(
        dict(
            default_scope='mmseg',
            custom_imports=dict(
                imports=['hsnet_mm'], allow_failed_imports=False),
            model=tiny_hsnet_cfg(),
            test_dataloader=dict(dataset=dict(pipeline=pipeline))))


def tiny_files(folder: Path, seed: int = 0) -> Tuple[str, str]:
    """Write the tiny config and a seeded checkpoint; (config, ckpt)."""
    from hsnet_mm.apis import init_model
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path = folder / 'tiny.py'
    tiny_config().dump(str(cfg_path))
    torch.manual_seed(seed)
    model = init_model(tiny_config())
    ckpt = folder / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), ckpt)
    return str(cfg_path), str(ckpt)


def image(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random (h, w, 3) uint8 RGB image."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    base = rng.uniform(0, 255, (3, ))
    img = base + 80 * np.sin(6 * xx + seed)[..., None] + 60 * np.cos(
        5 * yy)[..., None] + rng.normal(0, 10, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def box_mask(h: int, w: int, value: int = 255) -> np.ndarray:
    """(h, w) uint8 mask with a centred box of ``value``."""
    mask = np.zeros((h, w), np.uint8)
    mask[h // 4:3 * h // 4, w // 3:2 * w // 3] = value
    return mask


def support_set(k: int):
    """K <= 3 support images of different sizes and their box masks."""
    sizes = [(40, 70), (64, 48), (37, 53)][:k]
    imgs = [image(h, w, 10 + i) for i, (h, w) in enumerate(sizes)]
    masks = [box_mask(h, w) for h, w in sizes]
    return imgs, masks


#: Prologue of the memory-measuring subprocess scripts: ``peak_kib()`` is
#: the process's peak RSS (VmHWM; ru_maxrss would survive an exec).
PEAK_RSS_PROLOGUE = '''
import sys
import numpy as np


def peak_kib():
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f
                    if line.startswith('VmHWM:'))
'''


def write_large_png(path: Path, h: int, w: int) -> str:
    """A constant (h, w) RGB PNG with a box, written quickly (level 1)."""
    from PIL import Image
    img = np.zeros((h, w, 3), np.uint8)
    img[h // 4:3 * h // 4, w // 5:4 * w // 5] = (200, 80, 40)
    Image.fromarray(img).save(path, compress_level=1)
    return str(path)


def measure_peak(script: str, *args: str, timeout: int = 600, cwd=None):
    """Run ``PEAK_RSS_PROLOGUE + script`` with ``args`` in a subprocess
    (in ``cwd``), one OpenMP thread; (base, peak) KiB from the last two
    words printed.
    """
    import os
    import subprocess
    import sys
    out = subprocess.run(
        [sys.executable, '-c', PEAK_RSS_PROLOGUE + script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert out.returncode == 0, out.stderr[-3000:]
    base, peak = map(int, out.stdout.split()[-2:])
    return base, peak
