# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""``deploy.json``: an export is checked when loaded, with clear errors."""
import json
import shutil

import pytest

from hsnet_mm.deploy import is_export_dir, read_manifest
from hsnet_mm.deploy.manifest import EXPORT_FORMAT, MANIFEST, sha256_file
from hsnet_mm.utils import UserError


@pytest.fixture
def export(tiny_export, tmp_path):
    """A copy of the tiny export, free to damage."""
    return shutil.copytree(tiny_export, tmp_path / 'export')


def test_reads_a_good_export(export):
    manifest = read_manifest(str(export))
    assert manifest['export_format'] == EXPORT_FORMAT
    assert is_export_dir(str(export))
    for graph in manifest['graphs'].values():
        path = export / graph['file']
        assert graph['bytes'] == path.stat().st_size
        assert graph['sha256'] == sha256_file(str(path))
    assert manifest['dynamic_axes']['predictor'] == ['B', 'K', 'H', 'W']


def test_not_an_export(tmp_path, export):
    assert not is_export_dir(str(tmp_path / 'nothing'))
    assert not is_export_dir(None)
    with pytest.raises(UserError, match='is not a folder'):
        read_manifest(str(tmp_path / 'nothing'))
    with pytest.raises(UserError, match='not an hsnet-mm export.*deploy.json'):
        read_manifest(str(tmp_path))
    (export / MANIFEST).write_text('{not json')
    with pytest.raises(UserError, match='cannot be read as JSON'):
        read_manifest(str(export))


def test_other_format(export):
    manifest = json.loads((export / MANIFEST).read_text())
    manifest['export_format'] = EXPORT_FORMAT + 1
    (export / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(
            UserError,
            match=f'format {EXPORT_FORMAT + 1}.*'
            f'reads format {EXPORT_FORMAT}'):
        read_manifest(str(export))


def test_changed_or_missing_graph(export):
    with open(export / 'predictor.onnx', 'ab') as f:
        f.write(b'\0')
    with pytest.raises(
            UserError, match='predictor.onnx differs from the '
            'one exported'):
        read_manifest(str(export))
    read_manifest(str(export), verify=False)  # the caller's choice
    (export / 'encoder.onnx').unlink()
    with pytest.raises(UserError, match='incomplete export: encoder.onnx'):
        read_manifest(str(export))
