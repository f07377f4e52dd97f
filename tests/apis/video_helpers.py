# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Builders of the video tests: small videos, good and broken."""
from pathlib import Path
from typing import List

import cv2
import numpy as np

from tests.apis.episode_helpers import image


def write_video(path: Path,
                frames: List[np.ndarray],
                fourcc: str = 'mp4v',
                fps: float = 12.0) -> str:
    """Write RGB ``frames`` with OpenCV; the path."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), f'no {fourcc} writer here'
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return str(path)


def smooth_frames(n: int, h: int = 60, w: int = 80) -> List[np.ndarray]:
    """``n`` different smooth RGB frames."""
    return [image(h, w, i) for i in range(n)]


def corrupt_mp4(path: Path, n: int = 6) -> str:
    """An mp4v file whose index is intact but whose frame data is zeroed:
    OpenCV opens it (fourcc mp4v) and decodes no frame."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (48, 64, 3), np.uint8) for _ in range(n)]
    write_video(path, frames)
    data = bytearray(path.read_bytes())
    start, end = data.index(b'mdat') + 4, data.index(b'moov') - 4
    assert end > start
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))
    return str(path)


def frame_count(path: str) -> int:
    """Frames OpenCV decodes from ``path``."""
    cap = cv2.VideoCapture(path)
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


class ClosedWriter:
    """A ``cv2.VideoWriter`` that could not open."""

    def isOpened(self):  # noqa: N802 (OpenCV's name)
        return False

    def release(self):
        pass


def failing_mp4v(monkeypatch):
    """Make the mp4v writer fail to open, as in an OpenCV without it."""
    real = cv2.VideoWriter

    def writer(path, fourcc, *args):
        if fourcc == cv2.VideoWriter_fourcc(*'mp4v'):
            return ClosedWriter()
        return real(path, fourcc, *args)

    monkeypatch.setattr(cv2, 'VideoWriter', writer)
