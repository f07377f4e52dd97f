# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""What a folder-labelling run reads and where it writes.

The input files (a folder searched recursively, a glob or one file) and
their output stems; the manifest of a run (hashes of the model, the
supports and the label) in ``OUT/manifest.json``, which keeps the results
of different models or supports from being mixed in one folder; whether an
image is done (its record and requested files exist).
"""
import glob
import hashlib
import json
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch.nn as nn

from ..utils.cli import UserError
from ..utils.fileio import atomic_dump_json, remove_temp_files

IMAGE_EXTENSIONS = ('.bmp', '.gif', '.jpeg', '.jpg', '.pgm', '.png', '.ppm',
                    '.tif', '.tiff', '.webp')
VIDEO_EXTENSIONS = ('.avi', '.mkv', '.mov', '.mp4', '.webm')
FORMATS = ('png', 'coco', 'labelme')
#: Outputs of a run, removed by ``overwrite``.
#: What each manifest entry identifies, for the error message.
WHAT = dict(
    model='model (config or checkpoint)',
    supports='support set',
    label='label')
OUTPUTS = ('records', 'masks', 'labelme', '.parts', 'coco.json',
           'summary.json', 'manifest.json')


def is_video(path: str) -> bool:
    """Whether ``path`` is one video file (by its extension)."""
    return osp.isfile(path) and path.lower().endswith(VIDEO_EXTENSIONS)


def list_inputs(spec: str,
                exclude: Optional[str] = None) -> Tuple[str, List[str]]:
    """The files of a folder (recursively), a glob or one file.

    Hidden files and folders and ``exclude`` (the output folder) are left
    out.

    Args:
        spec (str): A folder, a glob (``'photos/**/*.jpg'``) or a file.
        exclude (str, optional): A folder to leave out.

    Returns:
        tuple[str, list[str]]: the root (the folder, or the glob's folder
        part) and the sorted paths relative to it, '/'-separated.

    Raises:
        UserError: nothing matches.
    """
    if osp.isdir(spec):
        root, found = spec, glob.glob(
            osp.join(glob.escape(spec), '**', '*'), recursive=True)
    elif glob.has_magic(spec):
        parts = spec.replace(os.sep, '/').split('/')
        fixed = parts[:[glob.has_magic(p) for p in parts].index(True)]
        root, found = '/'.join(fixed) or '.', glob.glob(spec, recursive=True)
    elif osp.isfile(spec):
        root, found = osp.dirname(spec) or '.', [spec]
    else:
        raise UserError(f'--input {spec}: no such folder or file (expected '
                        'a folder of images, a glob or a video file)')
    skip = osp.abspath(exclude) + os.sep if exclude else None
    files = sorted(
        osp.relpath(f, root).replace(os.sep, '/') for f in found
        if osp.isfile(f) and not (skip and osp.abspath(f).startswith(skip)))
    files = [f for f in files if not any(p[0] == '.' for p in f.split('/'))]
    if not files:
        raise UserError(f'--input {spec}: no files found (expected a folder '
                        'of images or a glob such as "photos/*.jpg")')
    return root, files


def output_stems(files: Sequence[str]) -> Dict[str, str]:
    """Output stems of the image files: the path without extension.

    Args:
        files (Sequence[str]): Relative paths.

    Returns:
        dict: path -> stem.

    Raises:
        UserError: two files share a stem (``a.jpg`` and ``a.png``).
    """
    stems, owner = {}, {}
    for f in files:
        stem = osp.splitext(f)[0]
        if stem in owner:
            raise UserError(f'{owner[stem]} and {f} would write the same '
                            f'outputs ({stem}.*); rename one of them')
        stems[f], owner[stem] = stem, f
    return stems


def _digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(repr(a.shape).encode() + np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def file_digest(path: str) -> str:
    """SHA-256 of a file, or of a folder's files (names and contents)."""
    h = hashlib.sha256()
    paths = [path] if osp.isfile(path) else sorted(
        p for p in glob.glob(
            osp.join(glob.escape(path), '**', '*'), recursive=True)
        if osp.isfile(p))
    for p in paths:
        h.update(osp.relpath(p, path).encode())
        with open(p, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
    return h.hexdigest()


def make_manifest(model: nn.Module, model_hashes: Optional[dict], imgs: list,
                  masks: list, label: str) -> dict:
    """The manifest of a run.

    Args:
        model (nn.Module): The model (hashed when ``model_hashes`` is None:
            its weights and ``model.cfg``).
        model_hashes (dict, optional): e.g. :func:`file_digest` of the
            config and checkpoint files.
        imgs, masks (list): The decoded supports and masks (hashed).
        label (str): The class name.

    Returns:
        dict: ``model``, ``supports`` and ``label``.
    """
    if model_hashes is None:  # no files: the weights and the config
        state = model.state_dict()
        model_hashes = dict(
            weights_sha256=_digest(*(state[k].cpu().numpy()
                                     for k in sorted(state))),
            config_sha256=hashlib.sha256(
                getattr(model, 'cfg').pretty_text.encode()).hexdigest())
    return dict(
        model=model_hashes,
        supports=[
            dict(image_sha256=_digest(i), mask_sha256=_digest(m))
            for i, m in zip(imgs, masks)
        ],
        label=label)


def check_out_dir(out_dir: str, manifest: dict, overwrite: bool) -> None:
    """Refuse an output folder holding results of another run's manifest
    (or results without one) unless ``overwrite``; changes nothing.

    Raises:
        UserError: naming what differs.
    """
    path = osp.join(out_dir, 'manifest.json')
    if overwrite:
        return
    if osp.isfile(path):
        with open(path) as f:
            old = json.load(f)
        diff = [WHAT[k] for k in manifest if old.get(k) != manifest[k]]
        if diff:
            raise UserError(
                f'{out_dir} holds results of another {" and ".join(diff)} '
                f'(see {path}); give another --out-dir, or --overwrite to '
                'remove them')
    elif osp.isdir(osp.join(out_dir, 'records')):
        raise UserError(f'{out_dir} holds results without a manifest.json; '
                        'give another --out-dir, or --overwrite')


def start_out_dir(out_dir: str, manifest: dict, overwrite: bool) -> None:
    """Prepare the output folder: with ``overwrite`` remove the outputs of
    earlier runs (:data:`OUTPUTS` only); remove the temporary files of
    killed writers; write the manifest."""
    for name in OUTPUTS if overwrite else ('.parts', ):
        path = osp.join(out_dir, name)
        if osp.isdir(path):
            shutil.rmtree(path)
        elif osp.isfile(path):
            os.remove(path)
    os.makedirs(out_dir, exist_ok=True)
    remove_temp_files(out_dir)  # of writers killed in an earlier run
    atomic_dump_json(osp.join(out_dir, 'manifest.json'), manifest)


def is_done(out_dir: str, stem: str, formats: Sequence[str]) -> bool:
    """Whether an image's record and requested per-image files exist."""
    need = [osp.join('records', stem + '.json')]
    need += [osp.join('masks', stem + '.png')] if 'png' in formats else []
    need += [osp.join('labelme', stem +
                      '.json')] if 'labelme' in formats else []
    return all(osp.isfile(osp.join(out_dir, p)) for p in need)
