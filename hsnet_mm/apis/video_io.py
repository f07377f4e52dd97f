# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Read a video frame by frame and write the overlay video (OpenCV).

- :class:`VideoReader` decodes one RGB frame at a time; a file OpenCV
  cannot open, or whose first frame does not decode, is a
  :class:`~hsnet_mm.utils.cli.UserError` naming the file and the codec
  (the container's fourcc, when OpenCV can tell it).
- :class:`OverlayWriter` writes ``overlay.mp4`` (fourcc ``mp4v``) or, where
  this OpenCV cannot open an ``mp4v`` writer, ``overlay.avi`` (``MJPG``).
  Frames go to a temporary ``.overlay.<random>.part.<ext>`` (OpenCV picks
  the container by the extension) renamed at the end: a killed run never
  leaves a partial ``overlay.*``; :func:`remove_partial_overlays` clears the
  temporary files a killed run left behind.
"""
import glob
import os
import os.path as osp
import uuid
from typing import Iterator, Optional, Tuple

import cv2
import numpy as np

from ..utils.cli import UserError
from ..utils.fileio import atomic_write_bytes, commit_temp_file

#: (fourcc, extension) of the overlay writers, in order of preference.
OVERLAY_CODECS = (('mp4v', '.mp4'), ('MJPG', '.avi'))
#: Frames per second of the overlay when the video does not say.
DEFAULT_FPS = 25.0
#: Overlay colour (RGB) and opacity of the predicted object.
OVERLAY_RGB = (255, 40, 40)
OVERLAY_ALPHA = 0.45


def fourcc_name(value: float) -> Optional[str]:
    """The 4 characters of a ``CAP_PROP_FOURCC`` value; None if unknown."""
    code = int(value) if value and value > 0 else 0
    chars = ''.join(chr((code >> (8 * i)) & 0xFF) for i in range(4))
    if not code or not all(32 <= ord(c) < 127 for c in chars):
        return None
    return chars.strip() or None


class VideoReader:
    """Decode a video file into (H, W, 3) uint8 RGB frames, one at a time.

    Args:
        path (str): The video file.

    Attributes:
        fps (float): Frames per second (:data:`DEFAULT_FPS` if unknown).
        frame_count (int): The container's frame count (0 if unknown; an
            estimate for some containers).
        codec (str): The fourcc, or ``'unknown codec'``.
        decoded (int): Frames decoded so far.

    Raises:
        FileNotFoundError: no such file.
        IsADirectoryError: ``path`` is a folder.
        UserError: OpenCV cannot open it (not a video, corrupt, or a
            container this build cannot read).
    """

    def __init__(self, path: str) -> None:
        self.path = os.fspath(path)
        if not osp.exists(self.path):
            raise FileNotFoundError(f'video file {self.path} does not exist')
        if osp.isdir(self.path):
            raise IsADirectoryError(f'{self.path} is a folder, not a video '
                                    'file')
        self._cap = cv2.VideoCapture(self.path)
        fourcc = fourcc_name(self._cap.get(cv2.CAP_PROP_FOURCC))
        self.codec = f'codec {fourcc}' if fourcc else 'unknown codec'
        if not self._cap.isOpened():
            self._cap.release()
            raise UserError(
                f'cannot open video file {self.path} ({self.codec}): not a '
                'video, corrupt, or a container this OpenCV cannot read; '
                'expected e.g. an .mp4 (mp4v/H.264) or .avi (MJPG) file')
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and 0 < fps < 1000 else DEFAULT_FPS
        self.frame_count = max(int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
        self.decoded = 0

    def frames(self, max_frames: Optional[int] = None) -> Iterator[np.ndarray]:
        """Yield the RGB frames, at most ``max_frames``, then release.

        Raises:
            UserError: not even the first frame decodes (named with the
                codec).
        """
        try:
            while max_frames is None or self.decoded < max_frames:
                ok, bgr = self._cap.read()
                if not ok or bgr is None:
                    break
                self.decoded += 1
                yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        finally:
            self._cap.release()
        if self.decoded == 0 and max_frames != 0:
            raise UserError(
                f'cannot decode any frame of video file {self.path} '
                f'({self.codec}): the file is corrupt or this OpenCV has no '
                'decoder for the codec; re-encode it, e.g. to mp4v or MJPG')

    def close(self) -> None:
        """Release the file (also done when :meth:`frames` ends)."""
        self._cap.release()

    @property
    def stopped_early(self) -> bool:
        """Whether decoding stopped before the container's frame count
        (a corrupt or truncated file)."""
        return 0 < self.decoded < self.frame_count


def overlay_frame(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The frame in BGR with the mask tinted and outlined.

    Args:
        rgb (np.ndarray): (H, W, 3) uint8 RGB.
        mask (np.ndarray): (H, W) 0/1.

    Returns:
        np.ndarray: (H, W, 3) uint8 BGR, for ``cv2.VideoWriter``.
    """
    out = rgb.astype(np.float32)
    fg = mask.astype(bool)
    out[fg] = out[fg] * (1 - OVERLAY_ALPHA) + np.array(
        OVERLAY_RGB, np.float32) * OVERLAY_ALPHA
    out = np.ascontiguousarray(out.astype(np.uint8)[..., ::-1])
    contours, _ = cv2.findContours(
        fg.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    cv2.drawContours(out, contours, -1, OVERLAY_RGB[::-1], 1)
    return out


def write_mask_png(path: str, mask: np.ndarray) -> str:
    """Write a (H, W) 0/1 mask as a 0/255 PNG, atomically."""
    ok, buf = cv2.imencode('.png', (mask > 0).astype(np.uint8) * 255)
    if not ok:
        raise RuntimeError(f'PNG encoding of {path} failed')
    return atomic_write_bytes(path, buf.tobytes())


def remove_partial_overlays(out_dir: str) -> list:
    """Remove the temporary overlays a killed run left in ``out_dir``."""
    removed = []
    for _, ext in OVERLAY_CODECS:
        pattern = osp.join(glob.escape(out_dir), f'.overlay.*.part{ext}')
        for path in glob.glob(pattern):
            os.remove(path)
            removed.append(path)
    return sorted(removed)


class OverlayWriter:
    """Write the overlay video under a temporary name; rename on
    :meth:`close`, delete on :meth:`abort` (or an exception in a ``with``).

    Args:
        out_dir (str): The output folder.
        fps (float): Frames per second.
        size (tuple[int, int]): (H, W) of the frames.
    """

    def __init__(self, out_dir: str, fps: float, size: Tuple[int,
                                                             int]) -> None:
        os.makedirs(out_dir, exist_ok=True)
        self.size = tuple(size)
        self.frames = 0
        token = uuid.uuid4().hex[:12]
        for fourcc, ext in OVERLAY_CODECS:
            tmp = osp.join(out_dir, f'.overlay.{token}.part{ext}')
            writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*fourcc),
                                     float(fps), (self.size[1], self.size[0]))
            if writer.isOpened():
                self.fourcc, self.tmp_path = fourcc, tmp
                self.path = osp.join(out_dir, f'overlay{ext}')
                self._writer = writer
                return
            writer.release()
            if osp.exists(tmp):
                os.remove(tmp)
        raise RuntimeError(
            'OpenCV cannot open a video writer for '
            f'{" or ".join(f for f, _ in OVERLAY_CODECS)} in {out_dir}')

    def write(self, rgb: np.ndarray, mask: np.ndarray) -> None:
        """Append a frame (RGB) with its mask drawn over it."""
        if rgb.shape[:2] != self.size:
            raise ValueError(f'frame {self.frames} is {rgb.shape[:2]} (H, W) '
                             f'but the video is {self.size}')
        self._writer.write(overlay_frame(rgb, mask))
        self.frames += 1

    def close(self) -> str:
        """Finish the file and move it to ``overlay.<ext>``; its path."""
        self._writer.release()
        return commit_temp_file(self.tmp_path, self.path)

    def abort(self) -> None:
        """Drop the temporary file (nothing named ``overlay.*`` appears)."""
        self._writer.release()
        if osp.exists(self.tmp_path):
            os.remove(self.tmp_path)

    def __enter__(self) -> 'OverlayWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
