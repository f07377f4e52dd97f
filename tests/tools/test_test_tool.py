# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/test.py: summary line, --out, --show-dir, --shot, bad checkpoints."""
import json
import re

import cv2
import PIL
import pytest
import torch

from hsnet_mm.evaluation import format_summary, rescore_episodes
from hsnet_mm.utils import format_environment, result_environment
from tests.mounts import small_tmpfs

SUMMARY = re.compile(r'^mIoU: (\d+\.\d\d)  FB-IoU: (\d+\.\d\d)  '
                     r'\((\d+) episodes, (\d+)-shot, fold (\d+)\)$')


def last_line(text):
    return text.rstrip('\n').split('\n')[-1]


def test_summary_out_and_show_dir(tiny_config, calibrated_checkpoint, run_tool,
                                  ok, tmp_path):
    out_file = tmp_path / 'results' / 'episodes.json'
    show_dir = tmp_path / 'vis'
    stdout = ok(
        run_tool([
            'tools/test.py',
            str(tiny_config),
            str(calibrated_checkpoint), '--work-dir',
            str(tmp_path / 'work_dir'), '--out',
            str(out_file), '--show-dir',
            str(show_dir), '--shot', '2'
        ]))
    match = SUMMARY.match(last_line(stdout))
    assert match, last_line(stdout)
    assert match.groups()[2:] == ('11', '2', '0')
    assert re.search(r'\] 11/11, [\d.]+ task/s', stdout)  # the progress bar
    assert 'Iter(test) [1/' not in stdout  # no log lines through the bar

    # --out: per-episode records a user can re-score to the same numbers
    metrics = rescore_episodes(out_file)
    assert format_summary(metrics, 11, 2, 0) == last_line(stdout)
    assert 0 < metrics['mIoU'] < 100  # calibrated: not a trivial prediction
    data = json.loads(out_file.read_text())
    episodes = data['episodes']
    assert [e['episode_idx'] for e in episodes] == list(range(11))
    for e in episodes:
        assert len(e['support_names']) == 2 and e['shot'] == 2
        assert e['query_name'] not in e['support_names']
        assert {'class_id', 'I_fg', 'U_fg', 'I_bg', 'U_bg'} <= set(e)
    # the versions and the device that decide the numbers, in the file and
    # in the test log
    env = result_environment()
    assert data['environment'] == env
    assert data['environment']['Pillow'] == PIL.__version__
    assert {
        'torch', 'mmcv', 'mmseg', 'mmengine', 'numpy', 'opencv', 'jpeg', 'cpu',
        'cuda_device'
    } <= set(data['environment'])
    logs = list((tmp_path / 'work_dir').glob('*/*.log'))
    assert len(logs) == 1
    assert f'result environment: {format_environment(env)}' in logs[
        0].read_text()

    # --show-dir: one PNG per episode: 2 supports, prediction, ground truth
    pngs = sorted(show_dir.glob('*.png'))
    assert [p.name
            for p in pngs] == [f'episode_{i:05d}.png' for i in range(11)]
    img = cv2.imread(str(pngs[0]))
    assert img is not None and img.shape[1] >= 4 * 64
    assert img.shape[0] >= 64


def test_missing_checkpoint_writes_nothing(tiny_config, run_tool, tmp_path):
    proc = run_tool([
        'tools/test.py',
        str(tiny_config),
        str(tmp_path / 'nope.pth'), '--work-dir',
        str(tmp_path / 'work_dir'), '--out',
        str(tmp_path / 'out.json'), '--show-dir',
        str(tmp_path / 'vis')
    ])
    assert proc.returncode != 0
    assert 'checkpoint file not found' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_mismatching_checkpoint_writes_nothing(tiny_config, trained, run_tool,
                                               tmp_path):
    # a wider backbone than the checkpoint's: shapes and keys differ
    out_dir = tmp_path / 'outputs'
    proc = run_tool([
        'tools/test.py',
        str(tiny_config),
        str(trained / 'epoch_2.pth'), '--work-dir',
        str(out_dir / 'work_dir'), '--out',
        str(out_dir / 'out.json'), '--show-dir',
        str(out_dir / 'vis'), '--cfg-options',
        'model.backbone.base_channels=16'
    ])
    assert proc.returncode != 0
    assert 'does not match the model of the config' in proc.stderr
    assert 'shape mismatch(es): backbone.' in proc.stderr
    assert 'missing key(s)' in proc.stderr
    assert not out_dir.exists()


def test_checkpoint_with_extra_keys_is_refused(tiny_config, trained, run_tool,
                                               tmp_path):
    ckpt = torch.load(trained / 'epoch_2.pth', weights_only=False)
    ckpt['state_dict']['decode_head.extra.weight'] = torch.zeros(1)
    path = tmp_path / 'extra.pth'
    torch.save(ckpt, path)
    proc = run_tool([
        'tools/test.py',
        str(tiny_config),
        str(path), '--work-dir',
        str(tmp_path / 'work_dir')
    ])
    assert proc.returncode != 0
    assert '1 unexpected key(s): decode_head.extra.weight' in proc.stderr
    assert not (tmp_path / 'work_dir').exists()


def test_out_must_be_json(tiny_config, trained, run_tool, tmp_path):
    proc = run_tool([
        'tools/test.py',
        str(tiny_config),
        str(trained / 'epoch_2.pth'), '--out',
        str(tmp_path / 'out.pkl')
    ])
    assert proc.returncode == 2
    assert '--out must be a .json file' in proc.stderr


def test_too_many_shots_writes_nothing(tiny_config, trained, run_tool,
                                       tmp_path):
    """The tiny config's classes have 4 images: 5 shots need 6."""
    checkpoint = sorted(trained.glob('epoch_*.pth'))[-1]
    out_dir = tmp_path / 'out'
    proc = run_tool([
        'tools/test.py',
        str(tiny_config),
        str(checkpoint), '--shot', '5', '--work-dir',
        str(out_dir / 'work_dir'), '--out',
        str(out_dir / 'out.json'), '--show-dir',
        str(out_dir / 'vis')
    ])
    assert proc.returncode != 0
    assert 'error: test dataset' in proc.stderr
    assert '5-shot episodes need at least 6' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not out_dir.exists()


def test_nan_checkpoint_is_refused(tiny_config, trained, run_tool, tmp_path):
    """It used to score ``mIoU: 0.00`` with exit code 0."""
    ckpt = torch.load(trained / 'epoch_2.pth', weights_only=False)
    ckpt['state_dict']['decode_head.conv_seg.bias'][:] = float('nan')
    path = tmp_path / 'nan.pth'
    torch.save(ckpt, path)
    proc = run_tool([
        'tools/test.py',
        str(tiny_config),
        str(path), '--work-dir',
        str(tmp_path / 'work_dir')
    ])
    assert proc.returncode != 0
    assert f'checkpoint {path} holds non-finite values' in proc.stderr
    assert 'decode_head.conv_seg.bias (2 NaN, 0 inf of 2)' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert not (tmp_path / 'work_dir').exists()


@pytest.mark.parametrize('arg', ['--out', '--show-dir'])
def test_unwritable_outputs_fail_before_the_first_episode(
        tiny_config, trained, run_tool, tmp_path, arg):
    """``--out /readonly/res.json`` used to fail after every episode
    (``--work-dir`` goes through the same check_writable call)."""
    with small_tmpfs(tmp_path / 'ro', read_only=True) as read_only:
        target = read_only / ('res.json' if arg == '--out' else 'dir')
        proc = run_tool([
            'tools/test.py',
            str(tiny_config),
            str(trained / 'epoch_2.pth'), '--work-dir',
            str(tmp_path / 'work_dir'), arg,
            str(target)
        ])
    assert proc.returncode != 0
    assert f'error: output {target} cannot be written' in proc.stderr
    assert 'Traceback' not in proc.stderr and 'Iter(test)' not in proc.stdout
    assert not (tmp_path / 'work_dir').exists()


ORIGINAL_SIZE_CONFIG = """
_base_ = ['{repo}/configs/_base_/default_runtime.py']
default_hooks = dict(
    timer=dict(type='IterTimerHook'), logger=dict(type='LoggerHook'))
model = {model}
pipeline = [
    dict(type='LoadEpisode'),
    dict(type='ResizeEpisode', scale=(64, 48)),
    dict(type='PackEpisodeInputs'),
]
test_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='FolderFewShotDataset', data_root={root!r}, shot=1,
                 mode='test', pipeline=pipeline))
test_evaluator = dict(type='FewShotMetric')
test_cfg = dict(type='TestLoop')
"""

ORIGINAL_SIZE_SCRIPT = '''
import runpy

tool = runpy.run_path('tools/test.py', run_name='test_tool')
base = peak_kib()
tool['main']([sys.argv[1], sys.argv[2], '--original-size', '--work-dir',
              sys.argv[3]])
print(base, peak_kib())
'''


@pytest.mark.slow
def test_original_size_on_a_12000_x_12000_query_peak(tmp_path):
    """Labels and predictions at 12000 x 12000: one batch in memory, the
    ground truth packed as uint8, the metric counted in small bands,
    LoadEpisode's readers filling arrays in bands without converting
    copies, ResizeEpisode's first pass in bands (before: 4.67 GiB, then
    1.8-2.1 GiB; the original-size int64 prediction alone is 1.15 GB)."""
    import numpy as np
    from PIL import Image

    from hsnet_mm.apis import init_model
    from tests.apis.episode_helpers import (box_mask, image, measure_peak,
                                            write_large_png)
    from tests.helpers import REPO_ROOT, tiny_hsnet_cfg
    root = tmp_path / 'data'
    for sub in ('images', 'masks'):
        (root / sub).mkdir(parents=True)
    write_large_png(root / 'images' / 'huge.png', 12000, 12000)
    mask = np.zeros((12000, 12000), np.uint8)
    mask[3000:9000, 2400:9600] = 255
    Image.fromarray(mask).save(root / 'masks' / 'huge.png', compress_level=1)
    del mask
    Image.fromarray(image(300, 400, 1)).save(root / 'images' / 'small.png')
    Image.fromarray(box_mask(300, 400)).save(root / 'masks' / 'small.png')
    config = tmp_path / 'tiny.py'
    config.write_text(
        ORIGINAL_SIZE_CONFIG.format(
            repo=REPO_ROOT, model=repr(tiny_hsnet_cfg()), root=str(root)))
    from mmengine.config import Config
    torch.manual_seed(0)
    model = init_model(Config.fromfile(str(config)))
    checkpoint = tmp_path / 'tiny.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), checkpoint)
    base, peak = measure_peak(
        ORIGINAL_SIZE_SCRIPT,
        str(config),
        str(checkpoint),
        str(tmp_path / 'work_dir'),
        cwd=REPO_ROOT)
    assert peak < 2 * 2**20, (base, peak)


def test_the_test_loop_holds_one_batch():
    import runpy

    from mmengine.config import Config

    from tests.tools.conftest import REPO_ROOT
    tool = runpy.run_path(str(REPO_ROOT / 'tools' / 'test.py'), run_name='t')
    for before, after in ((None, 'EpisodeTestLoop'), (dict(type='TestLoop'),
                                                      'EpisodeTestLoop'),
                          (dict(type='MultiSeedTestLoop',
                                seeds=[0]), 'MultiSeedTestLoop')):
        cfg = Config(dict(test_cfg=before) if before else {})
        tool['use_episode_test_loop'](cfg)
        assert cfg.test_cfg.type == after
