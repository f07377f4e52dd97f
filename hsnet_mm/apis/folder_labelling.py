# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Label a whole folder of images from a few annotated examples.

:func:`label_folder` encodes the supports once and streams the queries
(:func:`~.inference_episode.iter_loaded_episodes`: one image decoded at a
time). Per image, written atomically, in this order: the requested files
(``masks/<stem>.png``, ``labelme/<stem>.json``), a thumbnail and the record
``records/<stem>.json`` (the mask as RLE), which marks the image done.
``<stem>`` is the path relative to the input folder without extension.

- **Resume**: a rerun skips the images with a record (and their files) and
  says how many. ``manifest.json`` holds hashes of the model (config and
  checkpoint), the supports and the label; results of another one are not
  mixed in: :class:`UserError` unless ``overwrite`` (which removes them).
- **Bad files** (not an image, unreadable, corrupt) are skipped and listed.
- **Several processes** (``torch.distributed`` initialised): rank ``r``
  labels ``files[r::world_size]`` of the sorted list; after a barrier,
  rank 0 writes ``coco.json``, the contact sheets and ``summary.json``
  from every rank's records.
"""
import json
import os.path as osp
import shutil
import sys
import time
from collections import deque
from typing import Dict, Optional, Sequence, Tuple

import cv2
import torch
import torch.distributed as torch_dist
import torch.nn as nn

from ..utils.cli import UserError, one_line
from ..utils.fileio import atomic_dump_json, atomic_write_bytes
from ..visualization.contact_sheet import (make_thumbnail, overlay_thumbnail,
                                           write_contact_sheets)
from .annotation_writers import (build_coco, image_record, write_labelme,
                                 write_png_mask)
from .episode_inputs import ImageLike, load_support_set, to_rgb
from .inference_episode import iter_loaded_episodes
from .labelling_inputs import (FORMATS, IMAGE_EXTENSIONS, check_out_dir,
                               is_done, list_inputs, make_manifest,
                               output_stems, start_out_dir)


def _dist() -> Tuple[int, int]:
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_rank(), torch_dist.get_world_size()
    return 0, 1


def _barrier() -> None:
    if _dist()[1] > 1:
        torch_dist.barrier()


def label_folder(model: nn.Module,
                 supports: Sequence[ImageLike],
                 support_masks: Sequence[ImageLike],
                 inputs: str,
                 out_dir: str,
                 formats: Sequence[str] = ('png', 'coco'),
                 label: str = 'object',
                 split_instances: bool = False,
                 overwrite: bool = False,
                 model_hashes: Optional[dict] = None,
                 progress: bool = True) -> dict:
    """Segment the supports' class in every image of ``inputs``.

    Args:
        model (nn.Module): From :func:`~hsnet_mm.apis.init_model`.
        supports, support_masks: K images and masks (as
            :func:`~.inference_episode.inference_episode`).
        inputs (str): A folder (searched recursively), a glob or a file.
        out_dir (str): The output folder (see the module docstring).
        formats (Sequence[str]): Of :data:`FORMATS`.
        label (str): The class name in the COCO and LabelMe files.
        split_instances (bool): COCO: one annotation per connected
            component.
        overwrite (bool): Remove the results of another model or support
            set in ``out_dir`` instead of refusing.
        model_hashes (dict, optional): Identify the model in the manifest
            (e.g. the config's and checkpoint's hashes); by default the
            hashes of its weights and config.
        progress (bool): A progress bar on stderr (rank 0).

    Returns:
        dict: the summary (also ``out_dir/summary.json``); on ranks > 0 the
        rank's own counts.
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise UserError(f'formats {unknown}: expected some of {FORMATS}')
    rank, world = _dist()
    root, files = list_inputs(inputs, exclude=out_dir)
    stems = output_stems(
        [f for f in files if f.lower().endswith(IMAGE_EXTENSIONS)])
    if not stems:
        raise UserError(f'--input {inputs}: none of its {len(files)} files '
                        f'is an image ({" ".join(IMAGE_EXTENSIONS)})')
    imgs, masks = load_support_set(list(supports), list(support_masks))
    manifest = make_manifest(model, model_hashes, imgs, masks, label)
    check_out_dir(out_dir, manifest, overwrite)
    _barrier()
    if rank == 0:
        start_out_dir(out_dir, manifest, overwrite)
        done = sum(is_done(out_dir, s, formats) for s in stems.values())
        if done:
            print(f'{done} of {len(stems)} images already labelled in '
                  f'{out_dir}: skipping them (resume)')
    _barrier()
    start = time.perf_counter()
    stats = _label_shard(model, imgs, masks, root, files[rank::world], stems,
                         out_dir, formats, label, progress and rank == 0)
    atomic_dump_json(osp.join(out_dir, '.parts', f'rank{rank}.json'), stats)
    _barrier()
    if rank != 0:
        return stats
    return _finish(out_dir, root, files, stems, world, formats, label,
                   split_instances,
                   time.perf_counter() - start)


def _label_shard(model, imgs, masks, root, shard, stems, out_dir, formats,
                 label, progress) -> dict:
    skipped, todo, resumed = [], [], 0
    for f in shard:
        if f not in stems:
            skipped.append(dict(file=f, reason='not an image file'))
        elif is_done(out_dir, stems[f], formats):
            resumed += 1
        else:
            todo.append(f)
    bar = None
    if progress and todo:
        from mmengine.utils import ProgressBar
        bar = ProgressBar(len(todo), file=sys.stderr)
    pending = deque()

    def decoded():
        for f in todo:
            try:
                box = [to_rgb(osp.join(root, f), f)]
            except (OSError, ValueError) as e:
                skipped.append(dict(file=f, reason=one_line(e)))
                if bar:
                    bar.update()
                continue
            pending.append((f, make_thumbnail(box[0])))
            yield box.pop()  # the consumer holds the only reference

    processed = 0
    results = iter_loaded_episodes(model, decoded(), imgs, masks)
    while True:
        try:
            sample = next(results)
        except StopIteration:
            break
        except ValueError as e:  # supports unusable at the input size
            if processed:
                raise
            raise UserError(one_line(e)) from e
        f, thumb = pending.popleft()
        # the int64 prediction is dropped before the files are written
        pred = sample.pred_sem_seg
        del sample.pred_sem_seg, sample
        mask = pred.data[0].to('cpu', torch.uint8).numpy()
        del pred
        _write_image(out_dir, root, f, stems[f], mask, thumb, formats, label)
        processed += 1
        if bar:
            bar.update()
    if bar:
        sys.stderr.write('\n')
    return dict(processed=processed, resumed=resumed, skipped=skipped)


def _write_image(out_dir, root, f, stem, mask, thumb, formats, label):
    if 'png' in formats:
        write_png_mask(osp.join(out_dir, 'masks', stem + '.png'), mask)
    if 'labelme' in formats:
        write_labelme(
            osp.join(out_dir, 'labelme', stem + '.json'), mask, label,
            osp.join(root, f))
    _, jpg = cv2.imencode('.jpg', overlay_thumbnail(thumb, mask)[..., ::-1])
    atomic_write_bytes(
        osp.join(out_dir, 'records', stem + '.jpg'), jpg.tobytes())
    atomic_dump_json(
        osp.join(out_dir, 'records', stem + '.json'), image_record(f, mask))


def _records(out_dir: str, stems: Dict[str, str]):
    for f, stem in stems.items():
        path = osp.join(out_dir, 'records', stem + '.json')
        if osp.isfile(path):
            with open(path) as fh:
                yield json.load(fh)


def _finish(out_dir, root, files, stems, world, formats, label,
            split_instances, seconds) -> dict:
    parts = []
    for r in range(world):
        with open(osp.join(out_dir, '.parts', f'rank{r}.json')) as fh:
            parts.append(json.load(fh))
    processed = sum(p['processed'] for p in parts)
    skipped = sorted((s for p in parts for s in p['skipped']),
                     key=lambda s: s['file'])
    labelled, empty = 0, []
    for rec in _records(out_dir, stems):
        labelled += 1
        if not rec['area']:
            empty.append(rec['file'])
    written = [
        osp.join(out_dir, d, '')
        for d, fmt in (('masks', 'png'), ('labelme', 'labelme'))
        if fmt in formats
    ]
    if 'coco' in formats:
        coco = build_coco(_records(out_dir, stems), label, split_instances)
        written.append(atomic_dump_json(osp.join(out_dir, 'coco.json'), coco))

    def thumbs():
        for rec in _records(out_dir, stems):
            path = osp.join(out_dir, 'records', stems[rec['file']] + '.jpg')
            thumb = cv2.imread(path, cv2.IMREAD_COLOR)
            if thumb is not None:
                yield rec['file'], thumb[..., ::-1], not rec['area']

    written += write_contact_sheets(thumbs(), out_dir)
    summary = dict(
        input=root,
        files=len(files),
        images=len(stems),
        labelled=labelled,
        processed=processed,
        resumed=sum(p['resumed'] for p in parts),
        seconds=round(seconds, 3),
        images_per_s=round(processed / seconds, 3) if seconds > 0 else None,
        processes=world,
        empty=empty,
        skipped=skipped,
        formats=list(formats),
        outputs=[osp.relpath(p, out_dir) for p in written])
    atomic_dump_json(osp.join(out_dir, 'summary.json'), summary)
    shutil.rmtree(osp.join(out_dir, '.parts'))  # merged
    return summary


def format_summary(summary: dict) -> str:
    """The summary of :func:`label_folder` as a few lines of text."""
    lines = [
        f'Labelled {summary["processed"]} images in {summary["seconds"]} s '
        f'({summary["images_per_s"]} images/s, {summary["processes"]} '
        f'process(es)); {summary["resumed"]} already done (resumed); '
        f'{summary["labelled"]} of {summary["images"]} images labelled'
    ]
    if summary['empty']:
        lines.append(f'{len(summary["empty"])} empty prediction(s): ' +
                     ', '.join(summary['empty']))
    if summary['skipped']:
        lines.append(f'{len(summary["skipped"])} file(s) skipped: ' +
                     '; '.join(f'{s["file"]} ({s["reason"]})'
                               for s in summary['skipped']))
    lines.append('Wrote ' + ', '.join(summary['outputs'] + ['summary.json']))
    return '\n'.join(lines)
