# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""``deploy.json``: what an export directory holds, checked when loaded.

An export directory (``tools/deployment/pytorch2onnx.py``)::

    deploy.json     this manifest
    config.py       the model's config (test pipeline, data preprocessor)
    encoder.onnx    images -> feature maps          (see .graphs)
    predictor.onnx  maps + support masks -> logits  (see .graphs)
"""
import hashlib
import json
import os
import os.path as osp
from typing import Dict, Optional

from ..utils.cli import UserError

#: Version of the export layout; a loader refuses other versions.
EXPORT_FORMAT = 1

#: The manifest's file name inside an export directory.
MANIFEST = 'deploy.json'

#: The graphs of an export and their files.
GRAPH_FILES = {'encoder': 'encoder.onnx', 'predictor': 'predictor.onnx'}

#: The config file inside an export directory.
CONFIG_FILE = 'config.py'


def sha256_file(path: str, block: int = 1 << 20) -> str:
    """The SHA-256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(block), b''):
            digest.update(chunk)
    return digest.hexdigest()


def is_export_dir(path) -> bool:
    """Whether ``path`` is a folder with a :data:`MANIFEST`."""
    return (isinstance(path, (str, os.PathLike)) and osp.isdir(path)
            and osp.isfile(osp.join(path, MANIFEST)))


def describe_files(export_dir: str) -> Dict[str, dict]:
    """``{graph: dict(file, bytes, sha256)}`` of the graphs in a folder."""
    out = {}
    for graph, name in GRAPH_FILES.items():
        path = osp.join(export_dir, name)
        out[graph] = dict(
            file=name, bytes=osp.getsize(path), sha256=sha256_file(path))
    return out


def read_manifest(export_dir: str, verify: bool = True) -> dict:
    """Read and check the manifest of an export directory.

    Args:
        export_dir (str): the folder.
        verify (bool): check the graphs' sizes and SHA-256 against the
            manifest. Defaults to True.

    Returns:
        dict: the manifest.

    Raises:
        UserError: not an export, another format version, or a graph file
            missing or changed since the export.
    """
    if not osp.isdir(export_dir):
        raise UserError(f'{export_dir} is not a folder: give the directory '
                        'that tools/deployment/pytorch2onnx.py wrote')
    path = osp.join(export_dir, MANIFEST)
    if not osp.isfile(path):
        raise UserError(f'{export_dir} is not an hsnet-mm export: it has no '
                        f'{MANIFEST} (export with tools/deployment/'
                        'pytorch2onnx.py)')
    try:
        with open(path) as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f'{path} cannot be read as JSON: {e}') from e
    fmt = manifest.get('export_format') if isinstance(manifest, dict) else None
    if fmt != EXPORT_FORMAT:
        raise UserError(
            f'{export_dir} has export format {fmt!r}; this hsnet-mm reads '
            f'format {EXPORT_FORMAT}: export the model again')
    for name in (CONFIG_FILE, *GRAPH_FILES.values()):
        if not osp.isfile(osp.join(export_dir, name)):
            raise UserError(f'{export_dir} is an incomplete export: '
                            f'{name} is missing')
    if verify:
        found = describe_files(export_dir)
        for graph, want in manifest['graphs'].items():
            if found.get(graph) != want:
                raise UserError(
                    f'{osp.join(export_dir, want["file"])} differs from the '
                    f'one exported ({want["bytes"]} bytes, sha256 '
                    f'{want["sha256"][:12]}...): the export was changed or '
                    'mixed with another one; export it again')
    return manifest


def write_manifest(export_dir: str, manifest: dict) -> None:
    """Write ``deploy.json`` into ``export_dir`` (a folder not yet in
    place: the exporter renames the whole folder at the end)."""
    with open(osp.join(export_dir, MANIFEST), 'w') as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write('\n')


def model_summary(cfg_model: dict) -> Optional[str]:
    """A canonical text of a config's ``model`` dict (for comparisons)."""
    return json.dumps(cfg_model, sort_keys=True, default=str)
