# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Label every frame of a video from a few annotated examples.

:func:`segment_video` decodes one frame at a time
(:class:`~.video_io.VideoReader`) and writes, per frame,
``masks/frame_<index>.png`` (0/255, the frame's size, atomically) and the
overlay video (:class:`~.video_io.OverlayWriter`: ``overlay.mp4``, or
``overlay.avi`` where OpenCV cannot write mp4v; renamed into place at the
end).

**Plain mode** (``propagate=0``):
:func:`~.inference_episode.iter_loaded_episodes`, the K supports encoded
once.

**Propagation** (``propagate=N``): a *confident* frame prediction joins the
support set as one more shot (the frame and its predicted mask); the last N
confident frames are kept, so the set holds K + N shots at most. Only the
new frame is encoded: its :class:`~hsnet_mm.structures.SupportFeatures` are
concatenated to the others' (:func:`concat_supports`). A prediction is
confident when its foreground covers at least :data:`MIN_FOREGROUND` of the
frame and the mean, over the predicted foreground, of the max-softmax of
``seg_logits`` (the mean of the shots' logits) is at least
:data:`MIN_CONFIDENCE`. The K annotated supports always stay.
"""
import os
import os.path as osp
import sys
import time
from collections import deque
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.dataset import pseudo_collate
from mmseg.structures import SegDataSample

from ..structures import SupportFeatures
from ..utils.cli import UserError
from .episode_pipeline import EpisodePipeline
from .inference_episode import iter_loaded_episodes
from .video_io import (OverlayWriter, VideoReader, remove_partial_overlays,
                       write_mask_png)

#: Least mean max-softmax over the predicted foreground of a frame that
#: joins the support set.
MIN_CONFIDENCE = 0.9
#: Least foreground area (fraction of the frame) of a frame that joins.
MIN_FOREGROUND = 0.002


def frame_confidence(sample: SegDataSample) -> Tuple[float, float]:
    """(confidence, foreground fraction) of a prediction.

    Args:
        sample (SegDataSample): with ``pred_sem_seg`` (1, H0, W0) and
            ``seg_logits`` (2, h, w).

    Returns:
        tuple[float, float]: the mean max-softmax of ``seg_logits`` over
        the predicted foreground (0 when there is none) and the foreground
        fraction of the frame.
    """
    logits = sample.seg_logits.data.float()
    pred = sample.pred_sem_seg.data[0]
    area = float(pred.float().mean())
    if pred.shape != logits.shape[-2:]:  # logits at the input size
        pred = torch.nn.functional.interpolate(
            pred[None, None].float(), size=logits.shape[-2:],
            mode='nearest')[0, 0]
    fg = pred.bool()
    if not fg.any():
        return 0.0, area
    conf = logits.softmax(dim=0).max(dim=0)[0][fg].mean()
    return float(conf), area


def is_confident(sample: SegDataSample) -> bool:
    """Whether a frame's prediction joins the support set (module doc)."""
    conf, area = frame_confidence(sample)
    return area >= MIN_FOREGROUND and conf >= MIN_CONFIDENCE


def concat_supports(parts: Sequence[SupportFeatures]) -> SupportFeatures:
    """One support set holding the shots of several (batch size 1 each).

    Args:
        parts (Sequence[SupportFeatures]): encoded at one input size.

    Returns:
        SupportFeatures: their shots in order (the shot count is the sum).
    """
    if len(parts) == 1:
        return parts[0]
    if any(p.batch_size != 1 for p in parts):
        raise ValueError('only single support sets (batch size 1) can be '
                         'concatenated')
    feats = [[
        torch.cat([p.feats[lv][i] for p in parts])
        for i in range(len(parts[0].feats[lv]))
    ] for lv in range(len(parts[0].feats))]
    return SupportFeatures(
        feats=feats,
        masks=torch.cat([p.masks for p in parts]),
        num_shots=sum(p.num_shots for p in parts),
        batch_size=1)


class _LastFrame:
    """A frame iterator remembering the frame it handed out last."""

    def __init__(self, frames: Iterator[np.ndarray]) -> None:
        self.frames = frames
        self.last: Optional[np.ndarray] = None

    def __iter__(self) -> Iterator[np.ndarray]:
        for frame in self.frames:
            self.last = frame
            yield frame
            frame = None


def _propagated(model: nn.Module, frames: Iterator[np.ndarray],
                imgs: Sequence[np.ndarray], masks: Sequence[np.ndarray],
                n: int, joined: List[int],
                shots: List[int]) -> Iterator[SegDataSample]:
    """Predictions with the last ``n`` confident frames as extra shots.

    Appends the index of each frame that joins to ``joined`` and the shot
    count each frame was predicted with to ``shots``.
    """
    pipeline = EpisodePipeline(model.cfg)
    base, support = None, None
    extra: deque = deque(maxlen=n)  # SupportFeatures of the joined frames
    for i, frame in enumerate(frames):
        with torch.no_grad():
            data = model.data_preprocessor(
                pseudo_collate([pipeline(frame, imgs, masks)]), False)
            inputs = data['inputs']
            if base is None:
                base = _encode(model, inputs, 'the supports')
            if support is None:
                support = concat_supports([base, *extra])
            sample, = model.predict(
                dict(query_img=inputs['query_img']),
                data['data_samples'],
                support=support)
        shots.append(support.num_shots)
        yield sample
        if is_confident(sample):
            mask = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            with torch.no_grad():
                data = model.data_preprocessor(
                    pseudo_collate([pipeline(frame, [frame], [mask])]), False)
                new = _encode(model, data['inputs'], None)
            if new is not None:  # None: the mask vanished in the resize
                extra.append(new)
                joined.append(i)
                support = None
        del frame


def _encode(model: nn.Module, inputs: dict,
            what: Optional[str]) -> Optional[SupportFeatures]:
    """Encode ``inputs``' supports; an empty resized mask raises
    UserError naming ``what`` (None: returns None instead)."""
    fg = inputs['support_masks'].flatten(2).any(dim=2)
    if not bool(fg.all()):
        if what is None:
            return None
        raise UserError(
            f'the foreground of {what} vanishes when resized to the input '
            f'size {tuple(inputs["support_masks"].shape[-2:])} (H, W): the '
            'object is too small; crop the image closer')
    return model.encode_support(inputs['support_imgs'],
                                inputs['support_masks'])


def segment_video(model: nn.Module,
                  support_imgs: Sequence[np.ndarray],
                  support_masks: Sequence[np.ndarray],
                  video_path: str,
                  out_dir: str,
                  *,
                  propagate: int = 0,
                  progress: bool = True,
                  write_overlay: bool = True,
                  max_frames: Optional[int] = None) -> dict:
    """Segment the supports' class in every frame of a video.

    Args:
        model (nn.Module): an ``HSNet`` from :func:`init_model`.
        support_imgs (Sequence[np.ndarray]): K (H, W, 3) uint8 RGB, loaded
            and checked by :func:`~.episode_inputs.load_support_set`.
        support_masks (Sequence[np.ndarray]): K (H, W) 0/1 masks.
        video_path (str): The video file.
        out_dir (str): Output folder: ``masks/frame_000000.png``... and
            ``overlay.mp4`` (or ``overlay.avi``).
        propagate (int): N >= 0: the last N confident frame predictions
            join the support set (module doc). Defaults to 0.
        progress (bool): Show a progress bar on stderr. Defaults to True.
        write_overlay (bool): Write the overlay video. Defaults to True.
        max_frames (int, optional): Stop after this many frames.

    Returns:
        dict: ``frames``, ``seconds``, ``fps`` (frames per second),
        ``empty_frames`` (indices of frames with no foreground),
        ``overlay`` (its path, or None), ``video_fps``, ``codec``,
        ``stopped_early`` (decoding ended before the container's frame
        count: a corrupt or truncated file), ``propagate`` and, when
        ``propagate > 0``, ``support_frames`` (the indices of the frames
        that joined the support set) and ``max_shots``.

    Raises:
        FileNotFoundError: no such video file.
        UserError: the video cannot be opened or decoded (file and codec
            named); a bad ``propagate`` or ``max_frames``.
        ValueError: supports whose foreground vanishes in the resize.
    """
    if isinstance(propagate, bool) or not isinstance(propagate, int) \
            or propagate < 0:
        raise UserError(f'propagate must be an int >= 0, got {propagate!r}')
    if max_frames is not None and (not isinstance(max_frames, int)
                                   or max_frames < 1):
        raise UserError(f'max_frames must be an int >= 1, got '
                        f'{max_frames!r}')
    start = time.perf_counter()
    reader = VideoReader(video_path)
    out_dir = os.fspath(out_dir)
    os.makedirs(osp.join(out_dir, 'masks'), exist_ok=True)
    remove_partial_overlays(out_dir)
    frames = _LastFrame(reader.frames(max_frames))
    joined: List[int] = []
    shots: List[int] = []
    if propagate:
        results = _propagated(model, iter(frames), support_imgs, support_masks,
                              propagate, joined, shots)
    else:
        results = iter_loaded_episodes(model, iter(frames), support_imgs,
                                       support_masks)
    total = reader.frame_count
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    bar = _progress_bar(total) if progress else None
    writer, empty, count = None, [], 0
    try:
        for i, sample in enumerate(results):
            mask = sample.pred_sem_seg.data[0].cpu().numpy().astype(np.uint8)
            del sample
            write_mask_png(
                osp.join(out_dir, 'masks', f'frame_{i:06d}.png'), mask)
            if not mask.any():
                empty.append(i)
            if write_overlay:
                if writer is None:
                    writer = OverlayWriter(out_dir, reader.fps, mask.shape)
                writer.write(frames.last, mask)
            count = i + 1
            if bar is not None:
                bar.update()
        overlay = writer.close() if writer is not None else None
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    finally:
        frames.last = None
        results.close()
        reader.close()
        if bar is not None:
            bar.file.write('\n')
    seconds = time.perf_counter() - start
    summary = dict(
        frames=count,
        seconds=round(seconds, 3),
        fps=round(count / seconds, 3) if seconds > 0 else 0.0,
        empty_frames=empty,
        overlay=overlay,
        video_fps=reader.fps,
        codec=reader.codec,
        stopped_early=reader.stopped_early,
        propagate=propagate)
    if propagate:
        summary.update(support_frames=joined, max_shots=max(shots))
    return summary


def _progress_bar(total: int):
    from mmengine.utils import ProgressBar
    return ProgressBar(total, file=sys.stderr)
