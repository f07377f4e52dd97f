# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""demo/image_demo.py end to end, and its refusals (nothing written)."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from PIL import Image

from hsnet_mm.apis import init_model
from hsnet_mm.utils import call_cli
from tests.apis.episode_helpers import box_mask, image, tiny_files
from tests.demo.demo_loader import load_demo
from tests.helpers import REPO_ROOT, tiny_hsnet_cfg


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('image_demo')
    cfg, ckpt = tiny_files(folder)
    paths = dict(cfg=cfg, ckpt=ckpt)
    for name, arr in (('q0', image(40, 60, 0)), ('q1', image(50, 30, 1)),
                      ('s0', image(44, 44, 2)), ('m0', box_mask(44, 44)),
                      ('s1', image(30, 50, 3)), ('m1', box_mask(30, 50))):
        paths[name] = str(folder / f'{name}.png')
        Image.fromarray(arr).save(paths[name])
    return paths


def test_cli_writes_overlays_and_masks(files, tmp_path):
    out = tmp_path / 'out'
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([
        sys.executable, 'demo/image_demo.py', files['q0'], files['q1'],
        '--support', files['s0'], files['m0'], '--support', files['s1'],
        files['m1'], files['cfg'], files['ckpt'], '--out-dir',
        str(out), '--device', 'cpu', '--opacity', '0.3'
    ],
                          cwd=REPO_ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert 'foreground pixels' in proc.stdout
    for stem, shape in (('q0', (40, 60)), ('q1', (50, 30))):
        mask = np.asarray(Image.open(out / 'pred' / f'{stem}.png'))
        assert mask.shape == shape and set(np.unique(mask)) <= {0, 255}
        vis = np.asarray(Image.open(out / 'vis' / f'{stem}.png'))
        assert vis.ndim == 3 and vis.shape[1] > shape[1] * 2


def test_options_anywhere(files):
    demo = load_demo('image_demo')
    args = demo.parse_args([
        '--support', 'a', 'b', files['q0'], files['q1'], 'c.py', 'c.pth',
        '--out-dir', 'o'
    ])
    assert args.queries == [files['q0'], files['q1']]
    assert (args.config, args.checkpoint) == ('c.py', 'c.pth')
    assert args.support == [['a', 'b']]
    with pytest.raises(SystemExit):
        demo.parse_args(['q', 'c.py', 'c.pth', '--out-dir', 'o'])


def _run(demo, files, out, capsys, support=None, ckpt=None, query=None):
    """``main`` in the tools' error boundary (``run_cli`` without the
    exit)."""
    support = support or [files['s0'], files['m0']]
    code = call_cli(demo.main, [
        query or files['q0'], '--support', *support, files['cfg'], ckpt
        or files['ckpt'], '--out-dir',
        str(out)
    ])
    return code, capsys.readouterr().err


def test_cli_refusals_write_nothing(files, tmp_path, capsys):
    demo = load_demo('image_demo')
    out = tmp_path / 'out'
    empty = tmp_path / 'empty.png'
    Image.fromarray(np.zeros((44, 44), np.uint8)).save(empty)
    wrong = tmp_path / 'wrong.png'
    Image.fromarray(box_mask(20, 20)).save(wrong)
    corrupt = tmp_path / 'corrupt.png'
    corrupt.write_bytes(b'\x89PNG\r\n\x1a\n garbage')
    other = tmp_path / 'other.pth'  # another backbone width
    cfg = tiny_hsnet_cfg()
    cfg['backbone']['base_channels'] = 16
    wider = init_model(Config(dict(model=cfg, default_scope='mmseg')))
    torch.save(dict(state_dict=wider.state_dict()), other)
    junk = tmp_path / 'junk.pth'
    junk.write_text('hello')
    cases = [
        (dict(query=str(tmp_path / 'missing.png')), 'missing.png'),
        (dict(query=str(corrupt)), 'corrupt.png'),
        (dict(support=[files['s0'], str(tmp_path / 'nomask.png')]),
         'nomask.png'),
        (dict(support=[files['s0'], str(empty)]), 'shot 0.*no foreground'),
        (dict(support=[files['s0'], str(wrong)]), '20x20.*44x44'),
        (dict(ckpt=str(other)), 'other.pth'),
        (dict(ckpt=str(junk)), 'junk.pth.*not a PyTorch checkpoint'),
    ]
    import re
    for kwargs, pattern in cases:
        code, err = _run(demo, files, out, capsys, **kwargs)
        assert code == 2 and re.search(pattern, err), (kwargs, err)
        assert err.startswith('image_demo.py: error: ') and len(
            err.splitlines()) == 1, err
        assert not out.exists(), kwargs
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    code, err = _run(demo, files, blocker / 'out', capsys)
    assert code == 2 and '--out-dir' in err
    assert 'is a file, not a folder' in err


def test_max_pixels_refuses_before_writing(files, tmp_path, capsys):
    demo = load_demo('image_demo')
    out = tmp_path / 'out'
    code = call_cli(demo.main, [
        files['q0'], '--support', files['s0'], files['m0'], files['cfg'],
        files['ckpt'], '--out-dir',
        str(out), '--max-pixels', '2000'
    ])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1, err
    assert 'q0.png' in err and '60x40' in err and '--max-pixels' in err
    assert not out.exists()
    with pytest.raises(SystemExit):
        demo.parse_args([
            files['q0'], 'c.py', 'c.pth', '--out-dir', 'o', '--support', 'a',
            'b', '--max-pixels', '-1'
        ])


DEMO_SCRIPT = '''
import runpy

demo = runpy.run_path('demo/image_demo.py', run_name='image_demo')
base = peak_kib()
demo['main']([sys.argv[1], sys.argv[1], '--support', sys.argv[2],
              sys.argv[3], sys.argv[4], sys.argv[5], '--out-dir',
              sys.argv[6]])
print(base, peak_kib())
'''


@pytest.mark.slow
def test_two_12000_x_12000_queries_peak_under_2_gb(files, tmp_path):
    """The demo streams its queries: two of them take one's memory."""
    from tests.apis.episode_helpers import measure_peak, write_large_png
    huge = write_large_png(tmp_path / 'huge.png', 12000, 12000)
    out = tmp_path / 'out'
    base, peak = measure_peak(
        DEMO_SCRIPT,
        huge,
        files['s0'],
        files['m0'],
        files['cfg'],
        files['ckpt'],
        str(out),
        cwd=REPO_ROOT)
    assert peak < 2 * 2**20, (base, peak)
    assert (out / 'pred' / 'huge_1.png').is_file()
