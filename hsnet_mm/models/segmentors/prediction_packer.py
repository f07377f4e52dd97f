# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Per-shot logits -> ``SegDataSample`` predictions at the output size.

The one packer of few-shot predictions: ``HSNet.predict`` uses it, and so
can any few-shot segmentor (``docs/reuse.md``); ``inference_episode``, the
Inferencer and the demos read what it writes.

Shape shorthand (:mod:`hsnet_mm.structures.episode`): ``B`` episodes, ``K``
shots, ``h, w`` logit size, ``H, W`` input size, ``H', W'`` output size
(the ground truth's size, else ``ori_shape``).

**Memory.** Up to :data:`FULL_SIZE_MAX_PIXELS` output pixels the K shots'
logits are resized to the output size and voted (what every benchmark
image gets). Over it (e.g. a 12000 x 10000 photo) only ``pred_sem_seg`` (8
bytes a pixel) and a vote count (1 byte a pixel, K > 1) grow with the
output: the logits are resized and voted in bands of rows
(:func:`vote_at_size`, :data:`BAND_BYTES` of working memory; the same vote
up to float rounding at exact ties), and ``seg_logits`` and
``shot_pred_sem_seg`` stay at the input size: at the output size they would
take 8 + 8 K bytes a pixel (10 GB at 12000 x 10000 and K = 1) and carry no
information the input-size ones do not.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from mmseg.utils import OptSampleList, SampleList

from ..execution_policy import exporting
from .kshot_vote import foreground_argmax, vote_kshot

#: Outputs of more pixels keep ``seg_logits`` and ``shot_pred_sem_seg`` at
#: the input size (2048 x 2048; PASCAL, COCO and FSS-1000 images are far
#: below).
FULL_SIZE_MAX_PIXELS = 2048 * 2048

#: Working memory of one band of resized logits. Small: glibc serves
#: blocks under its (adaptive, up to 32 MB) mmap threshold from the heap,
#: where a band's freed temporaries are kept, not returned to the system.
BAND_BYTES = 4 * 2**20


def _source_rows(out_len: int, in_len: int, align_corners: bool,
                 device: torch.device) -> Tuple[torch.Tensor, ...]:
    """Bilinear source indices and weights along one dim, computed in
    float32 as PyTorch's CPU kernel does: (i0, i1, lambda0, lambda1)."""
    dst = torch.arange(out_len, dtype=torch.float32, device=device)
    one = torch.ones((), dtype=torch.float32, device=device)
    if align_corners:
        scale = (one * (in_len - 1)) / max(out_len - 1, 1)
        src = scale * dst
    else:
        scale = (one * in_len) / out_len
        src = (scale * (dst + 0.5) - 0.5).clamp(min=0)
    i0 = src.floor().long().clamp(max=in_len - 1)
    lam1 = (src - i0).clamp(0, 1)
    i1 = torch.where(i0 < in_len - 1, i0 + 1, i0)
    return i0, i1, 1 - lam1, lam1


def resize_rows(x: torch.Tensor, size: Sequence[int], align_corners: bool,
                rows: slice) -> torch.Tensor:
    """Rows ``rows`` of ``F.interpolate(x, size, mode='bilinear')``.

    Args:
        x (Tensor): (M, h, w).
        size (Sequence[int]): the full output size (H', W').
        align_corners (bool): as ``F.interpolate``.
        rows (slice): the output rows wanted (step 1).

    Returns:
        Tensor: (M, R, W'), R the number of rows.
    """
    out_h, out_w = size
    h0, h1, hl0, hl1 = _source_rows(out_h, x.shape[-2], align_corners,
                                    x.device)
    w0, w1, wl0, wl1 = _source_rows(out_w, x.shape[-1], align_corners,
                                    x.device)
    hl0, hl1 = hl0[rows, None].to(x.dtype), hl1[rows, None].to(x.dtype)
    wl0, wl1 = wl0.to(x.dtype), wl1.to(x.dtype)

    def along_w(t: torch.Tensor) -> torch.Tensor:
        return t[..., w0] * wl0 + t[..., w1] * wl1

    return (along_w(x[:, h0[rows]]) * hl0 + along_w(x[:, h1[rows]]) * hl1)


def vote_at_size(shot_logits: torch.Tensor, size: Sequence[int],
                 align_corners: bool) -> torch.Tensor:
    """The K-shot vote of (K, 2, h, w) logits resized to ``size``.

    Equals ``vote_kshot(F.interpolate(shot_logits, size)[None])[0]`` (the
    official vote: each shot votes with its argmax, a pixel needs half
    the image's maximum vote) up to float rounding at exact ties, in
    bands of rows: the working memory does not grow with ``size``.

    Returns:
        Tensor: (H', W') int64 0/1.
    """
    k = shot_logits.shape[0]
    out_h, out_w = (int(s) for s in size)
    flat = shot_logits.flatten(0, 1).float()  # (half logits: fp32 weights)
    band = max(1, BAND_BYTES // max(1, flat.shape[0] * out_w * 4 * 4))
    pred = torch.empty((out_h, out_w),
                       dtype=torch.long,
                       device=shot_logits.device)
    votes = None if k == 1 else torch.empty(
        (out_h, out_w),
        dtype=torch.uint8 if k < 256 else torch.int32,
        device=shot_logits.device)
    for start in range(0, out_h, band):
        rows = slice(start, min(out_h, start + band))
        fg = foreground_argmax(
            resize_rows(flat, (out_h, out_w), align_corners,
                        rows).view(k, 2, -1, out_w),
            dim=1)
        if votes is None:
            pred[rows] = fg[0]
        else:
            votes[rows] = fg.sum(0)
    if votes is not None:
        max_vote = votes.max().clamp(min=1).float()
        for start in range(0, out_h, band):
            rows = slice(start, min(out_h, start + band))
            pred[rows] = votes[rows].float() / max_vote >= 0.5
    return pred


def output_size(sample: SegDataSample) -> Tuple[int, int]:
    """(H', W'): the ground truth's size, else the original size."""
    if 'gt_sem_seg' in sample:
        return tuple(sample.gt_sem_seg.shape[-2:])
    return tuple(sample.metainfo['ori_shape'][:2])


def pack_episode_predictions(
        shot_logits: torch.Tensor,
        data_samples: OptSampleList,
        align_corners: bool,
        input_size: Optional[Sequence[int]] = None,
        full_size_max_pixels: int = FULL_SIZE_MAX_PIXELS) -> SampleList:
    """Store each episode's predictions in its data sample.

    Args:
        shot_logits (Tensor): (B, K, 2, h, w) per-shot logits (channel 1
            foreground), e.g. at the decoder's or the input size.
        data_samples (list[SegDataSample], optional): one per episode, with
            ``ori_shape`` and ``img_shape`` metainfo; None: new ones with
            both ``input_size`` (a prediction at the input size).
        align_corners (bool): of the bilinear resize to the output size.
        input_size (Sequence[int], optional): (H, W), for new samples.
            Defaults to the logits' size.
        full_size_max_pixels (int): see :data:`FULL_SIZE_MAX_PIXELS`.

    Returns:
        list[SegDataSample]: ``data_samples``, each with

        - ``pred_sem_seg`` (1, H', W') int64: the official K-shot vote
          (:func:`~hsnet_mm.models.segmentors.vote_kshot`) of the logits
          resized (bilinear) to the output size;
        - ``shot_pred_sem_seg`` (K, H', W') int64: each shot's own vote;
        - ``seg_logits`` (2, H', W'): the mean of the K shots' logits (K =
          1: the shot's logits, and ``pred_sem_seg`` is their argmax, as in
          mmseg; K > 1: a soft summary, which may disagree with the vote).

        Over ``full_size_max_pixels`` output pixels, ``shot_pred_sem_seg``
        and ``seg_logits`` are at the sample's ``img_shape`` (the input
        size) instead.
    """
    if data_samples is None:
        size = tuple(input_size or shot_logits.shape[-2:])
        data_samples = [
            SegDataSample(metainfo=dict(img_shape=size, ori_shape=size))
            for _ in range(shot_logits.shape[0])
        ]
    if len(data_samples) != shot_logits.shape[0]:
        raise ValueError(f'{shot_logits.shape[0]} episodes of logits but '
                         f'{len(data_samples)} data samples')
    for logits, sample in zip(shot_logits, data_samples):
        size = output_size(sample)
        small = size[0] * size[1] <= full_size_max_pixels
        logits_size = size if small else tuple(
            sample.metainfo.get('img_shape', logits.shape[-2:]))[:2]
        resized = F.interpolate(
            logits,
            size=logits_size,
            mode='bilinear',
            align_corners=align_corners)
        if small:  # the vote of exactly these logits
            pred = vote_kshot(resized[None])
        else:
            pred = vote_at_size(logits, size, align_corners)[None]
        sample.set_data(
            dict(
                seg_logits=PixelData(data=resized.mean(0)),
                shot_pred_sem_seg=PixelData(
                    data=foreground_argmax(resized, dim=1)),
                pred_sem_seg=PixelData(data=pred)))
    return data_samples


def resize_shot_logits(shot_logits: torch.Tensor, size: Sequence[int],
                       align_corners: bool) -> torch.Tensor:
    """Resize (B, K, 2, h, w) logits to ``size`` (bilinear)."""
    b, k = shot_logits.shape[:2]
    # (traced for export, the sizes stay tensors: the graph follows them)
    out = F.interpolate(
        shot_logits.flatten(0, 1),
        size=tuple(size if exporting() else map(int, size)),
        mode='bilinear',
        align_corners=align_corners)
    return out.view(b, k, *out.shape[1:])


__all__ = [
    'FULL_SIZE_MAX_PIXELS', 'output_size', 'pack_episode_predictions',
    'resize_rows', 'resize_shot_logits', 'vote_at_size'
]
