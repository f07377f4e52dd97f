# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import json
import subprocess
import sys

import pytest
import torch

from tests.helpers import REPO_ROOT, require_reference

TOOL = REPO_ROOT / 'tools/model_converters/hsnet2mmseg.py'


def run(*args):
    return subprocess.run(
        [sys.executable, str(TOOL), *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True)


def fake_official(backbone, prefix='module.'):
    keys = json.loads(require_reference(f'keys_{backbone}.json').read_text())
    torch.manual_seed(0)
    return {
        prefix + k:
        (torch.randn(s).half() if 'num_batches' not in k else torch.tensor(3))
        for k, s in keys
    }


@pytest.mark.parametrize('wrapped', [False, True])
def test_converts_vgg16_module_prefixed(tmp_path, wrapped):
    official = fake_official('vgg16')
    src = tmp_path / 'best_model.pt'
    torch.save(dict(state_dict=official) if wrapped else official, src)
    dst = tmp_path / 'out' / 'converted.pth'
    res = run(src, dst, '--backbone', 'vgg16')
    assert res.returncode == 0, res.stderr
    assert 'backbone.classifier.0.weight' in res.stdout  # said dropped
    ckpt = torch.load(dst, weights_only=True)
    state = ckpt['state_dict']
    assert ckpt['meta']['backbone'] == 'vgg16'
    assert state['decode_head.conv_seg.weight'].dtype == torch.float32
    torch.testing.assert_close(
        state['decode_head.conv_seg.weight'],
        official['module.hpn_learner.decoder2.2.weight'].float())
    assert not any('classifier' in k for k in state)


def test_refusals_write_nothing(tmp_path):
    official = fake_official('resnet50', prefix='')
    src = tmp_path / 'r50.pt'
    torch.save(official, src)
    dst = tmp_path / 'out.pth'
    res = run(src, dst, '--backbone', 'resnet101')
    assert res.returncode == 2 and 'wrong --backbone' in res.stderr
    official['extra.weight'] = torch.zeros(1)
    torch.save(official, src)
    res = run(src, dst, '--backbone', 'resnet50')
    assert res.returncode == 2 and 'not official HSNet keys' in res.stderr
    (tmp_path / 'junk.pt').write_text('not a checkpoint')
    res = run(tmp_path / 'junk.pt', dst, '--backbone', 'resnet50')
    assert res.returncode == 2 and 'not a PyTorch checkpoint' in res.stderr
    res = run(tmp_path / 'missing.pt', dst, '--backbone', 'resnet50')
    assert res.returncode == 2 and 'not found' in res.stderr
    assert 'Traceback' not in res.stderr
    assert not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['junk.pt', 'r50.pt']


def test_refuses_to_overwrite_its_source_and_non_finite_weights(tmp_path):
    """issue 26: `hsnet2mmseg.py same.pt same.pt` used to replace the
    official file; a NaN source used to convert with exit 0."""
    official = fake_official('resnet50', prefix='')
    src = tmp_path / 'r50.pt'
    torch.save(official, src)
    before = src.read_bytes()
    link = tmp_path / 'link.pt'
    link.symlink_to(src)
    for dst in (src, link, tmp_path / '.' / 'r50.pt'):
        res = run(src, dst, '--backbone', 'resnet50')
        assert res.returncode == 2, res.stderr
        assert 'is the source checkpoint' in res.stderr
        assert 'Traceback' not in res.stderr
    assert src.read_bytes() == before
    key = next(k for k, v in official.items() if v.is_floating_point())
    official[key][0] = float('nan')
    torch.save(official, src)
    dst = tmp_path / 'out.pth'
    res = run(src, dst, '--backbone', 'resnet50')
    assert res.returncode == 2 and 'non-finite values' in res.stderr
    assert key in res.stderr and not dst.exists()
