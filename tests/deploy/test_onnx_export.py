# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Export writes a checked, complete folder or nothing at all."""
import json

import pytest
import torch.nn as nn

from hsnet_mm.deploy import export_onnx, read_manifest
from hsnet_mm.deploy.manifest import CONFIG_FILE, GRAPH_FILES, MANIFEST
from hsnet_mm.deploy.onnx_export import MIN_OPSET
from hsnet_mm.utils import UserError


def test_export_folder(tiny_export):
    names = sorted(p.name for p in tiny_export.iterdir())
    assert names == sorted([CONFIG_FILE, MANIFEST, *GRAPH_FILES.values()])
    manifest = read_manifest(str(tiny_export))
    assert manifest['exporter'] == 'torch.onnx.export(dynamo=False)'
    assert manifest['level_sizes'] == [2, 2, 2]  # ResNet-18: layers 4, 3, 2
    assert len(manifest['inputs']['predictor']) == 2 * 6 + 3
    checks = manifest['checks']
    assert [(c['shots'], c['queries']) for c in checks] == [(1, 1), (3, 2)]
    assert [c['size'] for c in checks] == [[64, 64], [48, 48]]
    assert all(c['max_abs_diff'] <= 1e-4 for c in checks)


def _no_leftovers(parent):
    return [p.name for p in parent.iterdir() if p.name.startswith('.')]


def test_refusals_write_nothing(trained_tiny, tiny_export, tmp_path):
    cfg, model, _, _ = trained_tiny
    before = json.loads((tiny_export / MANIFEST).read_text())
    with pytest.raises(UserError, match='exists: choose another --out'):
        export_onnx(model, cfg, str(tiny_export), img_size=(64, 64))
    assert json.loads((tiny_export / MANIFEST).read_text()) == before
    out = tmp_path / 'out'
    with pytest.raises(UserError, match=f'opset must be >= {MIN_OPSET}'):
        export_onnx(model, cfg, str(out), opset=MIN_OPSET - 1)
    with pytest.raises(UserError, match='at least 32 x 32'):
        export_onnx(model, cfg, str(out), img_size=(16, 64))
    with pytest.raises(UserError, match='Linear cannot be exported'):
        export_onnx(nn.Linear(2, 2), cfg, str(out))
    assert not out.exists()


def test_failed_check_writes_nothing(trained_tiny, tmp_path):
    """A check that fails (a tolerance no float32 runtime meets) leaves
    neither the folder nor its temporary twin."""
    cfg, model, _, _ = trained_tiny
    out = tmp_path / 'out'
    with pytest.raises(
            UserError, match='disagree with PyTorch.*nothing '
            'was written'):
        export_onnx(model, cfg, str(out), img_size=(64, 64), tolerance=1e-12)
    assert not out.exists()
    assert not _no_leftovers(tmp_path)


def test_overwrite(trained_tiny, tmp_path):
    cfg, model, _, _ = trained_tiny
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'stale.txt').write_text('x')
    export_onnx(model, cfg, str(out), img_size=(48, 48), overwrite=True)
    assert not (out / 'stale.txt').exists()
    assert read_manifest(str(out))['traced_size'] == [48, 48]
    assert not _no_leftovers(tmp_path)
