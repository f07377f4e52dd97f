# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/segment_folder.py: a run killed mid-way resumes; 2 gloo processes
give the outputs of one; user errors are one line; a video goes to
segment_video."""
import contextlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hsnet_mm.apis import inference_episode, init_model
from hsnet_mm.utils import call_cli
from tests.apis.episode_helpers import image, support_set, tiny_config
from tests.helpers import REPO_ROOT

TOOL = REPO_ROOT / 'tools' / 'segment_folder.py'
N_IMAGES = 40
#: A Python warning and its source line (mmseg's when a model is built).
WARNING = re.compile(r'^\S+:\d+: \w*Warning: .*\n(  .*\n)?', re.M)


def load_tool():
    spec = importlib.util.spec_from_file_location('segment_folder', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """Config, checkpoint (foreground bias set so that masks are about
    half foreground), a support, its mask and a folder of N_IMAGES images
    (one in a sub-folder) plus a text file and a corrupt image."""
    root = tmp_path_factory.mktemp('segment_folder')
    torch.manual_seed(0)
    model = init_model(tiny_config())
    imgs, masks = support_set(1)
    logits = inference_episode(model, image(50, 60, 3), imgs,
                               masks).seg_logits.data
    state = model.state_dict()
    state['decode_head.conv_seg.bias'][1] -= (logits[1] - logits[0]).median()
    torch.save(dict(state_dict=state, meta={}), root / 'tiny.pth')
    tiny_config().dump(str(root / 'tiny.py'))
    Image.fromarray(imgs[0]).save(root / 'support.png')
    Image.fromarray(masks[0]).save(root / 'support_mask.png')
    src = root / 'photos'
    (src / 'sub').mkdir(parents=True)
    for i in range(N_IMAGES):
        folder = src / 'sub' if i == 7 else src
        Image.fromarray(image(40 + i % 9, 50 + i % 13,
                              i)).save(folder / f'p{i:03d}.png')
    (src / 'readme.txt').write_text('notes')
    (src / 'broken.png').write_bytes(b'\x89PNG broken')
    return dict(
        config=str(root / 'tiny.py'),
        checkpoint=str(root / 'tiny.pth'),
        support=[str(root / 'support.png'),
                 str(root / 'support_mask.png')],
        input=str(src))


def args_of(files, out, *extra):
    return [
        files['config'], files['checkpoint'], '--support', *files['support'],
        '--input', files['input'], '--out-dir',
        str(out), '--format', 'png', 'coco', 'labelme', '--no-progress', *extra
    ]


def env():
    return dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
        PYTHONUNBUFFERED='1')


def outputs(out: Path) -> dict:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob('*'))
        if p.is_file() and p.name != 'summary.json'
    }


def check_readable(out: Path) -> None:
    """Every file is complete (temporary ``.*.tmp`` files aside)."""
    for p in out.rglob('*'):
        if not p.is_file() or p.name.startswith('.'):
            continue
        if p.suffix == '.json':
            json.loads(p.read_text())
        else:
            with Image.open(p) as img:
                img.load()


@pytest.fixture(scope='module')
def killed_and_resumed(files, tmp_path_factory):
    """OUT of a run killed (SIGKILL) after a few images, then rerun
    (in this process)."""
    out = tmp_path_factory.mktemp('killed') / 'out'
    proc = subprocess.Popen(
        [sys.executable, str(TOOL), *args_of(files, out)],
        cwd=REPO_ROOT,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while (proc.poll() is None and time.time() < deadline
           and len(list(out.glob('records/**/*.json'))) < 5):
        time.sleep(0.02)
    proc.kill()
    stderr = proc.communicate()[1].decode()
    done = len(list(out.glob('records/**/*.json')))
    assert proc.returncode == -9 and 5 <= done < N_IMAGES, stderr[-3000:]
    check_readable(out)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):  # in-process: no 2nd start-up
        assert call_cli(load_tool().main, args_of(files, out)) == 0
    return out, done, stdout.getvalue()


@pytest.mark.slow
def test_killed_run_resumes(files, killed_and_resumed):
    out, done, stdout = killed_and_resumed
    assert f'{done} of {N_IMAGES + 1} images already labelled' in stdout
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['resumed'] == done
    assert summary['processed'] == N_IMAGES - done
    assert summary['labelled'] == N_IMAGES
    assert [s['file']
            for s in summary['skipped']] == ['broken.png', 'readme.txt']
    assert 'readme.txt (not an image file)' in stdout
    assert not list(out.rglob('.*.tmp'))
    coco = json.loads((out / 'coco.json').read_text())
    assert len(coco['images']) == N_IMAGES
    assert coco['images'][-1]['file_name'] == 'sub/p007.png'
    mask = np.array(Image.open(out / 'masks' / 'sub' / 'p007.png'))
    assert 0.05 < (mask > 0).mean() < 0.95


@pytest.mark.slow
def test_two_processes_give_the_outputs_of_one(files, killed_and_resumed,
                                               run_tool, ok, port, tmp_path):
    single, _, _ = killed_and_resumed
    out = tmp_path / 'out'
    stdout = ok(
        run_tool([
            'bash', 'tools/dist_segment_folder.sh', *args_of(files, out)[:2],
            '2', *args_of(files, out)[2:]
        ],
                 env=dict(PORT=str(port()))))
    assert stdout.count('Labelled ') == 1  # rank 0 reports
    assert outputs(out) == outputs(single)
    got = json.loads((out / 'summary.json').read_text())
    want = json.loads((single / 'summary.json').read_text())
    assert got['processes'] == 2 and got['processed'] == N_IMAGES
    for key in ('labelled', 'empty', 'skipped', 'files', 'images'):
        assert got[key] == want[key], key


def test_user_errors_are_one_line(files, tmp_path, capsys):
    tool = load_tool()
    empty = tmp_path / 'empty'
    empty.mkdir()
    cases = [
        (['--input', str(empty)], 'no files found'),
        (['--support', files['support'][0],
          str(tmp_path / 'nope.png')], 'does not exist'),  # a 2nd shot
        (['--propagate', '2'], '--propagate applies to a video'),
    ]
    for extra, fragment in cases:
        argv = args_of(files, tmp_path / 'out') + extra
        assert call_cli(tool.main, argv) == 2
        err = WARNING.sub('', capsys.readouterr().err).strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err


def test_a_video_goes_to_segment_video(files, tmp_path, monkeypatch, capsys):
    calls = []

    def segment_video(model,
                      support_imgs,
                      support_masks,
                      video_path,
                      out_dir,
                      *,
                      propagate=0,
                      progress=True):
        calls.append((len(support_imgs), video_path, out_dir, propagate))
        return dict(frames=3)

    fake = types.ModuleType('hsnet_mm.apis.video_labelling')
    fake.segment_video = segment_video
    monkeypatch.setitem(sys.modules, 'hsnet_mm.apis.video_labelling', fake)
    video = tmp_path / 'clip.mp4'
    video.write_bytes(b'')
    argv = args_of(files, tmp_path / 'out', '--propagate', '4')
    argv[argv.index('--input') + 1] = str(video)
    assert call_cli(load_tool().main, argv) == 0
    assert calls == [(1, str(video), str(tmp_path / 'out'), 4)]
    assert json.loads(
        capsys.readouterr().out.splitlines()[-1]) == dict(frames=3)


LARGE_FOLDER_SCRIPT = '''
import json
import runpy

tool = runpy.run_path('tools/segment_folder.py', run_name='segment_folder')
base = peak_kib()
tool['main']([sys.argv[1], sys.argv[2], '--support', sys.argv[3],
              sys.argv[4], '--input', sys.argv[5], '--out-dir', sys.argv[6],
              '--format', 'png', 'coco', 'labelme', '--no-progress'])
print(base, peak_kib())
'''


@pytest.mark.slow
def test_a_12000_x_12000_photo_is_labelled_under_2_gb(files, tmp_path):
    """PNG, COCO and LabelMe of a 12000 x 12000 photo: the int64
    prediction is dropped before the writers run, which add no full-size
    copy beyond one uint8 mask (before: 2.9 GiB)."""
    from tests.apis.episode_helpers import measure_peak, write_large_png
    photos = tmp_path / 'photos'
    photos.mkdir()
    write_large_png(photos / 'huge.png', 12000, 12000)
    out = tmp_path / 'out'
    base, peak = measure_peak(
        LARGE_FOLDER_SCRIPT,
        files['config'],
        files['checkpoint'],
        *files['support'],
        str(photos),
        str(out),
        cwd=REPO_ROOT)
    assert peak < 2 * 2**20, (base, peak)
    with Image.open(out / 'masks' / 'huge.png') as mask:
        assert mask.size == (12000, 12000)
    coco = json.loads((out / 'coco.json').read_text())
    assert coco['images'][0]['height'] == 12000
    assert (out / 'labelme' / 'huge.json').is_file()
