# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""video_io: reading frames, codec errors, the atomic overlay writer."""
import os

import cv2
import numpy as np
import pytest

from hsnet_mm.apis.video_io import (OverlayWriter, VideoReader, fourcc_name,
                                    overlay_frame, remove_partial_overlays,
                                    write_mask_png)
from hsnet_mm.utils.cli import UserError
from tests.apis.video_helpers import (corrupt_mp4, failing_mp4v, frame_count,
                                      smooth_frames, write_video)


def test_fourcc_name():
    assert fourcc_name(cv2.VideoWriter_fourcc(*'mp4v')) == 'mp4v'
    assert fourcc_name(cv2.VideoWriter_fourcc(*'MJPG')) == 'MJPG'
    assert fourcc_name(0) is None
    assert fourcc_name(-1.0) is None
    assert fourcc_name(3) is None  # not printable


@pytest.mark.parametrize('fourcc,ext', [('mp4v', 'mp4'), ('MJPG', 'avi')])
def test_reader_decodes_rgb_frames(tmp_path, fourcc, ext):
    colours = [(220, 30, 30), (30, 220, 30), (30, 30, 220)]
    frames = [np.full((32, 48, 3), c, np.uint8) for c in colours]
    path = write_video(tmp_path / f'v.{ext}', frames, fourcc, fps=7)
    reader = VideoReader(path)
    assert reader.frame_count == 3 and reader.fps == pytest.approx(7)
    # OpenCV reports the decoder's tag (mp4v reads back as FMP4)
    assert reader.codec in (f'codec {fourcc}', 'codec FMP4')
    got = list(reader.frames())
    assert len(got) == 3 and reader.decoded == 3
    assert not reader.stopped_early
    for frame, colour in zip(got, colours):
        assert frame.shape == (32, 48, 3) and frame.dtype == np.uint8
        assert int(np.argmax(frame.reshape(-1, 3).mean(0))) == int(
            np.argmax(colour))  # RGB order, not OpenCV's BGR
    assert len(list(VideoReader(path).frames(max_frames=2))) == 2


def test_missing_folder_and_non_video(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.mp4'):
        VideoReader(str(tmp_path / 'nope.mp4'))
    with pytest.raises(IsADirectoryError):
        VideoReader(str(tmp_path))
    text = tmp_path / 'notes.mp4'
    text.write_text('not a video at all\n' * 50)
    with pytest.raises(
            UserError,
            match='cannot open video file .*notes.mp4'
            r'.*\(unknown codec\)'):
        VideoReader(str(text))


def test_corrupt_video_names_file_and_codec(tmp_path):
    path = corrupt_mp4(tmp_path / 'broken.mp4')
    reader = VideoReader(path)  # the container opens...
    with pytest.raises(UserError) as err:
        list(reader.frames())  # ...but no frame decodes
    msg = str(err.value)
    assert 'broken.mp4' in msg
    assert 'codec FMP4' in msg or 'codec mp4v' in msg
    assert '\n' not in msg


def test_truncated_video_stops_early(tmp_path):
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (48, 64, 3), np.uint8) for _ in range(20)]
    path = tmp_path / 'cut.avi'
    write_video(path, frames, 'MJPG')
    data = bytearray(path.read_bytes())
    a = len(data) // 3
    data[a:a + len(data) // 3] = bytes(len(data) // 3)
    path.write_bytes(bytes(data))
    reader = VideoReader(str(path))
    n = len(list(reader.frames()))
    assert 0 < n < 20 and reader.stopped_early


def test_overlay_writer_is_atomic(tmp_path):
    frames = smooth_frames(4)
    mask = np.zeros((60, 80), np.uint8)
    mask[10:30, 20:50] = 1
    with OverlayWriter(str(tmp_path), 10, (60, 80)) as writer:
        for f in frames:
            writer.write(f, mask)
        assert writer.fourcc == 'mp4v'
        assert os.listdir(tmp_path) == [os.path.basename(writer.tmp_path)]
        path = writer.close()
    assert path == str(tmp_path / 'overlay.mp4')
    assert os.listdir(tmp_path) == ['overlay.mp4']
    assert frame_count(path) == 4
    with pytest.raises(ValueError, match='frame 0'):
        OverlayWriter(str(tmp_path), 10, (60, 80)).write(frames[0][:50], mask)
    remove_partial_overlays(str(tmp_path))
    assert os.listdir(tmp_path) == ['overlay.mp4']


def test_overlay_writer_aborts_on_error(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with OverlayWriter(str(tmp_path), 10, (60, 80)) as writer:
            writer.write(smooth_frames(1)[0], np.zeros((60, 80), np.uint8))
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_mjpg_fallback(tmp_path, monkeypatch):
    failing_mp4v(monkeypatch)
    writer = OverlayWriter(str(tmp_path), 10, (60, 80))
    assert writer.fourcc == 'MJPG' and writer.tmp_path.endswith('.part.avi')
    for f in smooth_frames(3):
        writer.write(f, np.ones((60, 80), np.uint8))
    assert writer.close() == str(tmp_path / 'overlay.avi')
    assert sorted(os.listdir(tmp_path)) == ['overlay.avi']
    assert frame_count(str(tmp_path / 'overlay.avi')) == 3


def test_remove_partial_overlays(tmp_path):
    for name in ('.overlay.ab12.part.mp4', '.overlay.cd.part.avi',
                 'overlay.mp4', 'keep.part.mp4'):
        (tmp_path / name).write_bytes(b'x')
    removed = remove_partial_overlays(str(tmp_path))
    assert [os.path.basename(p) for p in removed
            ] == ['.overlay.ab12.part.mp4', '.overlay.cd.part.avi']
    assert sorted(os.listdir(tmp_path)) == ['keep.part.mp4', 'overlay.mp4']


def test_mask_png_and_overlay_frame(tmp_path):
    mask = np.zeros((20, 30), np.uint8)
    mask[5:15, 10:20] = 1
    path = write_mask_png(str(tmp_path / 'm' / 'f.png'), mask)
    back = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    assert back.shape == (20, 30) and set(np.unique(back)) == {0, 255}
    assert np.array_equal(back > 0, mask > 0)
    rgb = np.full((20, 30, 3), 100, np.uint8)
    bgr = overlay_frame(rgb, mask)
    assert bgr.shape == (20, 30, 3)
    assert (bgr[0, 0] == 100).all()  # background untouched
    assert bgr[10, 15, 2] > 150 and bgr[10, 15, 0] < 100  # red tint (BGR)
