# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Does support propagation help? IoU per frame with and without it.

For each class, a video is generated with the synthetic renderer's shapes
and textures: one object of the class moves across a static cluttered
scene (distractors of other classes), grows 2.4x, turns, and drifts in hue
and brightness; its mask is known. ``segment_video`` labels it from K = 1
annotated example (``--support render``: another synthetic image of the
class; ``frame0``: the first frame and its mask), with ``propagate=0`` and
``propagate=N``. Printed: the IoU of every frame, the means and frames/s;
written: a JSON (``--out``). The verdict keeps propagation only if it raises
the mean IoU over all frames by at least ``--min-gain`` points.

Usage::

    python tools/analysis_tools/propagation_study.py CONFIG CHECKPOINT \
        [--propagate 4] [--frames 60] [--size 128] [--classes 0 5 ...] \
        [--support render|frame0] [--out work_dirs/propagation_study.json]
"""
import argparse
import os
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from hsnet_mm.apis import init_model
from hsnet_mm.apis.video_io import VideoReader
from hsnet_mm.apis.video_labelling import (MIN_CONFIDENCE, MIN_FOREGROUND,
                                           segment_video)
from hsnet_mm.datasets.synthetic_renderer import (COLOUR_FAMILIES, SHAPES,
                                                  TEXTURES, SyntheticRenderer,
                                                  _rgb, _shape_mask, _texture,
                                                  class_fold, class_name,
                                                  class_specs)
from hsnet_mm.utils import check_device, run_cli
from hsnet_mm.utils.fileio import atomic_dump_json

NUM_CLASSES, NUM_FOLDS = 48, 4


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--propagate', type=int, default=4)
    parser.add_argument('--frames', type=int, default=60)
    parser.add_argument('--size', type=int, default=128)
    parser.add_argument(
        '--classes',
        type=int,
        nargs='+',
        default=None,
        help='class ids (default: the first 6 of the fold held out)')
    parser.add_argument('--fold', type=int, default=0)
    parser.add_argument(
        '--support', choices=('render', 'frame0'), default='render')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--min-gain', type=float, default=1.0)
    parser.add_argument('--work-dir', default=None, help='keep videos here')
    parser.add_argument('--out', default='work_dirs/propagation_study.json')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    if args.propagate < 1 or args.frames < 2 or args.size < 32:
        parser.error('need --propagate >= 1, --frames >= 2, --size >= 32')
    if not 0 <= args.fold < NUM_FOLDS:
        parser.error(f'--fold must be in 0..{NUM_FOLDS - 1}')
    if args.classes and not all(0 <= c < NUM_CLASSES for c in args.classes):
        parser.error(f'--classes must be in 0..{NUM_CLASSES - 1}')
    return args


def held_out_classes(fold: int) -> List[int]:
    """The synthetic classes of ``fold`` (unseen in training)."""
    return [
        c for c, s in enumerate(class_specs(NUM_CLASSES))
        if class_fold(s, NUM_FOLDS) == fold
    ]


def make_renderer(size: int, fold: int, seed: int) -> SyntheticRenderer:
    """The test renderer of ``fold``: distractors from its classes."""
    return SyntheticRenderer(seed, (size, size), class_specs(NUM_CLASSES),
                             held_out_classes(fold), (2, 2), True)


def render_video(renderer: SyntheticRenderer, class_id: int, frames: int,
                 seed: int) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """A moving, growing, turning, colour-drifting object of ``class_id``.

    Returns:
        tuple[list, list]: ``frames`` (S, S, 3) uint8 RGB images and their
        (S, S) uint8 0/1 masks of the object.
    """
    size = renderer.img_size[0]
    rng = np.random.default_rng([seed, class_id, 7])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    scene = renderer._background(rng, yy, xx)
    colour, shape, texture = renderer.specs[class_id]
    pool = [
        c for c in renderer.distractor_classes
        if renderer.specs[c][0] != colour
    ]
    spare = np.zeros((size, size), np.uint8)
    for c in rng.choice(pool, min(2, len(pool)), replace=False):
        r = rng.uniform(0.12, 0.18) * size
        where = (rng.uniform(r, size - r), rng.uniform(r, size - r), r)
        renderer._draw(rng, scene, spare, int(c), where, yy, xx)
    hue0 = COLOUR_FAMILIES[colour][1]
    ang0, phase = rng.uniform(0, 2 * np.pi), rng.uniform(0, 2 * np.pi)
    imgs, masks = [], []
    for i in range(frames):
        t = i / (frames - 1)
        r = (0.10 + 0.14 * t) * size
        cx = (0.22 + 0.56 * t) * size
        cy = (0.5 + 0.22 * np.sin(2 * np.pi * t + phase)) * size
        ang = ang0 + 1.5 * np.pi * t
        dx, dy = xx - cx, yy - cy
        u = dx * np.cos(ang) + dy * np.sin(ang)
        v = dy * np.cos(ang) - dx * np.sin(ang)
        inside = _shape_mask(SHAPES[shape], u, v, r)
        dark = _texture(TEXTURES[texture], u, v, max(3.0, r / 3))
        rgb = _rgb(hue0 - 18 + 36 * t, 0.95 - 0.25 * t, 1.0 - 0.35 * t)
        img = scene.copy()
        img[inside] = (rgb * (1 - 0.55 * dark)[..., None])[inside]
        img += rng.standard_normal(img.shape, dtype=np.float32) * 6
        imgs.append(np.clip(img, 0, 255).astype(np.uint8))
        masks.append(inside.astype(np.uint8))
    return imgs, masks


def write_frames(path: str, frames: Sequence[np.ndarray], fps: float) -> str:
    """Write RGB frames as an mp4v video (MJPG .avi where mp4v fails)."""
    import cv2
    h, w = frames[0].shape[:2]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    for fourcc, ext in (('mp4v', '.mp4'), ('MJPG', '.avi')):
        out = path + ext
        writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*fourcc), fps,
                                 (w, h))
        if writer.isOpened():
            for f in frames:
                writer.write(np.ascontiguousarray(f[..., ::-1]))
            writer.release()
            return out
    raise RuntimeError('OpenCV can write neither mp4v nor MJPG here')


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Foreground IoU in % (100 when both are empty)."""
    p, g = pred > 0, gt > 0
    union = np.logical_or(p, g).sum()
    return 100.0 if union == 0 else 100.0 * np.logical_and(p, g).sum() / union


def read_masks(out_dir: str, n: int) -> List[np.ndarray]:
    import cv2
    return [
        cv2.imread(
            osp.join(out_dir, 'masks', f'frame_{i:06d}.png'),
            cv2.IMREAD_UNCHANGED) for i in range(n)
    ]


def study_video(model, video: str, gt: List[np.ndarray], support: tuple,
                modes: Sequence[int], work: str) -> Dict[str, dict]:
    """``segment_video`` of ``video`` per propagation mode, scored."""
    rows = {}
    for n in modes:
        out = osp.join(work, f'propagate{n}')
        summary = segment_video(
            model, *support, video, out, propagate=n, progress=False)
        ious = [iou(p, g) for p, g in zip(read_masks(out, len(gt)), gt)]
        rows[str(n)] = dict(
            iou=[round(x, 2) for x in ious],
            mean_iou=round(float(np.mean(ious)), 2),
            fps=summary['fps'],
            support_frames=summary.get('support_frames', []))
    return rows


def main(argv: Optional[Sequence[str]] = None) -> dict:
    args = parse_args(argv)
    model = init_model(
        args.config, args.checkpoint, device=check_device(args.device))
    renderer = make_renderer(args.size, args.fold, args.seed)
    classes = args.classes or held_out_classes(args.fold)[:6]
    modes = (0, args.propagate)
    videos = []
    with tempfile.TemporaryDirectory() as tmp:
        root = args.work_dir or tmp
        for c in classes:
            imgs, gt = render_video(renderer, c, args.frames, args.seed)
            work = osp.join(root, f'class{c:03d}')
            video = write_frames(osp.join(work, 'video'), imgs, 12.0)
            if args.support == 'frame0':
                support = ([imgs[0]], [gt[0]])
            else:
                img, label = renderer.render(c, 0)
                support = ([img], [(label == c + 1).astype(np.uint8)])
            del imgs
            if len(list(VideoReader(video).frames())) != len(gt):
                raise RuntimeError(f'{video} does not read back whole')
            rows = study_video(model, video, gt, support, modes, work)
            videos.append(
                dict(
                    class_id=c,
                    class_name=class_name(renderer.specs[c]),
                    modes=rows))
            print_video(videos[-1], modes)
    report = summarise(args, videos, modes)
    atomic_dump_json(args.out, report)
    print(f'wrote {args.out}')
    return report


def print_video(row: dict, modes: Sequence[int]) -> None:
    print(f'class {row["class_id"]} ({row["class_name"]}): IoU per frame')
    print('frame ' + ' '.join(f'{"propagate " + str(n):>12}' for n in modes))
    per_mode = [row['modes'][str(n)]['iou'] for n in modes]
    for i, values in enumerate(zip(*per_mode)):
        print(f'{i:5d} ' + ' '.join(f'{v:12.2f}' for v in values))
    print(' mean ' + ' '.join(f'{row["modes"][str(n)]["mean_iou"]:12.2f}'
                              for n in modes))


def summarise(args: argparse.Namespace, videos: List[dict],
              modes: Sequence[int]) -> dict:
    """Means over every frame of every video, and the verdict."""
    means, fps = {}, {}
    for n in modes:
        ious = [x for v in videos for x in v['modes'][str(n)]['iou']]
        means[str(n)] = round(float(np.mean(ious)), 2)
        fps[str(n)] = round(
            float(np.mean([v['modes'][str(n)]['fps'] for v in videos])), 2)
    gain = round(means[str(modes[1])] - means[str(modes[0])], 2)
    keep = gain >= args.min_gain
    print(f'mean IoU over {sum(len(v["modes"]["0"]["iou"]) for v in videos)}'
          f' frames: propagate 0: {means["0"]:.2f}, propagate {modes[1]}: '
          f'{means[str(modes[1])]:.2f} ({gain:+.2f} points); frames/s: ' +
          ', '.join(f'propagate {n}: {fps[str(n)]:.1f}' for n in modes))
    print(f'verdict: {"keep" if keep else "remove"} --propagate (needs '
          f'>= {args.min_gain:.1f} points)')
    return dict(
        config=args.config,
        checkpoint=args.checkpoint,
        frames=args.frames,
        size=args.size,
        support=args.support,
        seed=args.seed,
        rule=dict(
            min_confidence=MIN_CONFIDENCE, min_foreground=MIN_FOREGROUND),
        videos=videos,
        mean_iou=means,
        fps=fps,
        gain=gain,
        keep=keep)


if __name__ == '__main__':
    run_cli(main)
