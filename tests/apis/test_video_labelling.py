# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""segment_video: frames in = masks out, overlay, errors, propagation."""
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from hsnet_mm.apis import video_labelling as vl
from hsnet_mm.apis.episode_pipeline import EpisodePipeline
from hsnet_mm.apis.inference_episode import iter_loaded_episodes
from hsnet_mm.apis.video_io import VideoReader
from hsnet_mm.utils.cli import UserError
from tests.apis.episode_helpers import support_set, tiny_files
from tests.apis.video_helpers import (corrupt_mp4, failing_mp4v, frame_count,
                                      smooth_frames, write_video)
from tests.helpers import REPO_ROOT


def supports(k=1):
    imgs, masks = support_set(k)
    return imgs, [(m > 0).astype(np.uint8) for m in masks]


def read_masks(out):
    folder = out / 'masks'
    return [
        cv2.imread(str(folder / name), cv2.IMREAD_UNCHANGED)
        for name in sorted(os.listdir(folder))
    ]


def test_frames_in_masks_out(model, tmp_path):
    video = write_video(tmp_path / 'v.mp4', smooth_frames(5))
    imgs, masks = supports(2)
    out = tmp_path / 'out'
    summary = vl.segment_video(model, imgs, masks, video, str(out))
    assert sorted(os.listdir(
        out / 'masks')) == [f'frame_{i:06d}.png' for i in range(5)]
    # the masks are the predictions of the decoded frames, at their size
    decoded = list(VideoReader(video).frames())
    expected = [
        s.pred_sem_seg.data[0].numpy()
        for s in iter_loaded_episodes(model, decoded, imgs, masks)
    ]
    for got, want in zip(read_masks(out), expected):
        assert got.shape == (60, 80) and got.dtype == np.uint8
        assert set(np.unique(got)) <= {0, 255}
        assert np.array_equal(got > 0, want > 0)
    assert summary['frames'] == 5 and summary['propagate'] == 0
    assert summary['fps'] > 0 and summary['seconds'] > 0
    assert summary['empty_frames'] == [
        i for i, m in enumerate(expected) if not m.any()
    ]
    assert summary['overlay'] == str(out / 'overlay.mp4')
    assert frame_count(summary['overlay']) == 5
    assert sorted(os.listdir(out)) == ['masks', 'overlay.mp4']
    assert 'support_frames' not in summary and not summary['stopped_early']


def test_max_frames_and_no_overlay(model, tmp_path):
    video = write_video(tmp_path / 'v.avi', smooth_frames(4), 'MJPG')
    out = tmp_path / 'out'
    summary = vl.segment_video(
        model,
        *supports(),
        video,
        str(out),
        write_overlay=False,
        max_frames=2,
        progress=False)
    assert summary['frames'] == 2 and summary['overlay'] is None
    assert sorted(os.listdir(out)) == ['masks']
    assert len(os.listdir(out / 'masks')) == 2


def test_mjpg_fallback(model, tmp_path, monkeypatch):
    video = write_video(tmp_path / 'v.avi', smooth_frames(3), 'MJPG')
    failing_mp4v(monkeypatch)
    out = tmp_path / 'out'
    summary = vl.segment_video(model, *supports(), video, str(out))
    assert summary['overlay'] == str(out / 'overlay.avi')
    assert sorted(os.listdir(out)) == ['masks', 'overlay.avi']
    assert frame_count(summary['overlay']) == 3


def test_corrupt_and_non_video_files(model, tmp_path):
    text = tmp_path / 'clip.mp4'
    text.write_text('hello\n' * 100)
    with pytest.raises(UserError, match=r'clip\.mp4 \(unknown codec\)'):
        vl.segment_video(model, *supports(), str(text), str(tmp_path / 'a'))
    broken = corrupt_mp4(tmp_path / 'broken.mp4')
    with pytest.raises(UserError, match=r'broken\.mp4 \(codec (FMP4|mp4v)'):
        vl.segment_video(model, *supports(), broken, str(tmp_path / 'b'))
    assert not (tmp_path / 'a').exists()
    assert os.listdir(tmp_path / 'b') == ['masks']  # no overlay, no temp
    with pytest.raises(UserError, match='propagate'):
        vl.segment_video(
            model, *supports(), broken, str(tmp_path), propagate=-1)


def test_interrupted_run_leaves_no_overlay(model, tmp_path, monkeypatch):
    video = write_video(tmp_path / 'v.mp4', smooth_frames(5))
    out = tmp_path / 'out'
    written = []
    real = vl.write_mask_png

    def interrupted(path, mask):
        written.append(path)
        if len(written) == 3:
            # mid-run: the overlay exists only under its temporary name
            names = os.listdir(out)
            assert 'overlay.mp4' not in names
            assert any(n.startswith('.overlay.') for n in names)
            raise KeyboardInterrupt
        return real(path, mask)

    monkeypatch.setattr(vl, 'write_mask_png', interrupted)
    with pytest.raises(KeyboardInterrupt):
        vl.segment_video(model, *supports(), video, str(out))
    assert sorted(os.listdir(out)) == ['masks']
    monkeypatch.setattr(vl, 'write_mask_png', real)
    (out / '.overlay.0123.part.mp4').write_bytes(b'left by a killed run')
    assert vl.segment_video(model, *supports(), video, str(out))['frames'] == 5
    assert sorted(os.listdir(out)) == ['masks', 'overlay.mp4']


def test_concat_supports_equals_one_encoding(model):
    imgs, masks = supports(3)
    frame = smooth_frames(1)[0]
    enc = [_encoded(model, frame, [i], [m]) for i, m in zip(imgs, masks)]
    cat = vl.concat_supports(enc)
    assert cat.num_shots == 3 and cat.batch_size == 1
    direct = _encoded(model, frame, imgs, masks)
    for lv_cat, lv_direct in zip(cat.feats, direct.feats):
        for a, b in zip(lv_cat, lv_direct):
            assert torch.allclose(a, b, atol=1e-6)
    assert torch.equal(cat.masks, direct.masks)
    assert vl.concat_supports(enc[:1]) is enc[0]


def _encoded(model, frame, imgs, masks):
    packed = EpisodePipeline(model.cfg)(frame, imgs, masks)
    data = model.data_preprocessor(pseudo_collate([packed]), False)
    with torch.no_grad():
        return vl._encode(model, data['inputs'], 'x')


def test_propagation_keeps_support_bounded(model, tmp_path, monkeypatch):
    frames = smooth_frames(6)
    video = write_video(tmp_path / 'v.avi', frames, 'MJPG')
    imgs, masks = supports(1)
    monkeypatch.setattr(vl, 'is_confident', lambda sample: True)
    shots = []
    real_predict = model.predict

    def counting(inputs, data_samples, support):
        shots.append(support.num_shots)
        return real_predict(inputs, data_samples, support=support)

    monkeypatch.setattr(model, 'predict', counting)
    out = tmp_path / 'out'
    summary = vl.segment_video(
        model, imgs, masks, video, str(out), propagate=2, progress=False)
    monkeypatch.undo()
    got = [(m > 0).astype(np.uint8) for m in read_masks(out)]
    assert all(m.any() for m in got)  # each frame can join
    assert shots == [1, 2, 3, 3, 3, 3]  # K + N at most
    assert summary['support_frames'] == [0, 1, 2, 3, 4, 5]
    assert summary['max_shots'] == 3 and summary['propagate'] == 2
    # frame 5 is segmented with the supports and frames 3, 4 as shots
    decoded = list(VideoReader(video).frames())
    want, = iter_loaded_episodes(model, decoded[5:], imgs + decoded[3:5],
                                 masks + got[3:5])
    assert np.array_equal(got[5], want.pred_sem_seg.data[0].numpy())


def test_no_confident_frame_keeps_the_supports(model, tmp_path, monkeypatch):
    video = write_video(tmp_path / 'v.avi', smooth_frames(3), 'MJPG')
    monkeypatch.setattr(vl, 'MIN_CONFIDENCE', 1.01)  # nothing qualifies
    summary = vl.segment_video(
        model, *supports(2), video, str(tmp_path / 'o'), propagate=3)
    assert summary['support_frames'] == [] and summary['max_shots'] == 2


def test_frame_confidence():
    logits = torch.zeros(2, 4, 4)
    logits[1, :2] = 2.0  # rows 0-1: foreground, p = sigmoid(2)
    pred = (logits[1] > logits[0]).long()[None]
    sample = SegDataSample()
    sample.set_data(
        dict(
            seg_logits=PixelData(data=logits),
            pred_sem_seg=PixelData(data=pred)))
    conf, area = vl.frame_confidence(sample)
    assert area == 0.5
    assert conf == pytest.approx(torch.sigmoid(torch.tensor(2.)).item())
    assert vl.is_confident(sample) == (conf >= vl.MIN_CONFIDENCE)
    # prediction at the frame size, logits at the input size (large frames)
    sample.set_data(
        dict(
            pred_sem_seg=PixelData(
                data=pred.repeat_interleave(2, 1).repeat_interleave(2, 2))))
    assert vl.frame_confidence(sample) == (pytest.approx(conf), 0.5)
    sample.set_data(dict(pred_sem_seg=PixelData(data=torch.zeros_like(pred))))
    assert vl.frame_confidence(sample) == (0.0, 0.0)
    assert not vl.is_confident(sample)


KILLED_SCRIPT = '''
import sys, time
import numpy as np
from hsnet_mm.apis import init_model
from hsnet_mm.apis import video_labelling as vl
cfg, ckpt, video, out = sys.argv[1:]
model = init_model(cfg, ckpt)
img = np.full((40, 50, 3), 120, np.uint8)
mask = np.zeros((40, 50), np.uint8)
mask[10:30, 10:40] = 1
real = vl.write_mask_png
def slow(path, m):
    time.sleep(0.3)
    return real(path, m)
vl.write_mask_png = slow
vl.segment_video(model, [img], [mask], video, out, progress=False)
'''


@pytest.mark.slow  # a fresh Python process imports torch and mmseg
def test_killed_run_leaves_no_partial_overlay(tmp_path):
    cfg, ckpt = tiny_files(tmp_path / 'model')
    video = write_video(tmp_path / 'v.mp4', smooth_frames(40))
    out = tmp_path / 'out'
    proc = subprocess.Popen(
        [sys.executable, '-c', KILLED_SCRIPT, cfg, ckpt, video,
         str(out)],
        cwd=str(REPO_ROOT),
        stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not (out / 'masks' / 'frame_000002.png').exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.time() < deadline, 'the run did not start'
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait()
    names = os.listdir(out)
    assert not [n for n in names if n.startswith('overlay')], names
    assert [n for n in names if n.startswith('.overlay.')]  # the temp
    assert len(os.listdir(out / 'masks')) < 40
