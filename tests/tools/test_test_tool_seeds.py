# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/test.py --seeds / --episodes (multi-seed testing) and --amp."""
import json
import re

import numpy as np
import PIL
import pytest
import torch

from hsnet_mm.evaluation import rescore_episodes

MEAN_LINE = re.compile(
    r'^mean over 3 seed\(s\): mIoU: (\d+\.\d\d) \+/- (\d+\.\d\d) \(95% CI '
    r'(-?\d+\.\d\d)-(\d+\.\d\d)\)  FB-IoU: .*  \(7 episodes, 1-shot, fold '
    r'0\)$')


def lines_of(text):
    return text.rstrip('\n').split('\n')


def test_seeds_report_out_and_seed_replay(tiny_config, calibrated_checkpoint,
                                          run_tool, ok, tmp_path):
    # a plain test of 7 episodes with the config's seed (0)
    single = tmp_path / 'single.json'
    ok(
        run_tool([
            'tools/test.py',
            str(tiny_config),
            str(calibrated_checkpoint), '--work-dir',
            str(tmp_path / 'wd'), '--out',
            str(single), '--episodes', '7'
        ]))
    plain = json.loads(single.read_text())
    assert plain['num_episodes'] == 7

    multi = tmp_path / 'multi.json'
    stdout = ok(
        run_tool([
            'tools/test.py',
            str(tiny_config),
            str(calibrated_checkpoint), '--work-dir',
            str(tmp_path / 'wd'), '--out',
            str(multi), '--seeds', '0', '5', '9', '--episodes', '7'
        ]))
    lines = lines_of(stdout)
    match = MEAN_LINE.match(lines[-1])
    assert match, lines[-1]
    assert len(re.findall(r'\] 7/7, ', stdout)) == 3  # a bar per seed
    data = json.loads(multi.read_text())
    runs = data['runs']
    assert [r['seed'] for r in runs] == [0, 5, 9]
    assert data['num_episodes'] == 7 and data['shot'] == 1
    assert data['environment']['Pillow'] == PIL.__version__
    assert plain['environment'] == data['environment']
    # seed 0 is the plain run, episode for episode
    assert runs[0]['episodes'] == plain['episodes']
    assert runs[0]['mIoU'] == pytest.approx(plain['metrics']['mIoU'])
    assert runs[1]['episodes'] != runs[0]['episodes']
    for r in runs:
        assert len(r['episodes']) == 7
        assert r['mIoU'] == pytest.approx(
            rescore_episodes(r['episodes'], r['class_ids'])['mIoU'])
        assert f"seed {r['seed']}: mIoU: {r['mIoU']:.2f}  FB-IoU: " \
               f"{r['FB-IoU']:.2f}" in lines
    # the summary: mean, sample std and t-interval of the per-seed scores
    mious = np.array([r['mIoU'] for r in runs])
    summary = data['summary']['mIoU']
    assert summary['mean'] == pytest.approx(mious.mean())
    assert summary['std'] == pytest.approx(mious.std(ddof=1))
    half = 4.303 * mious.std(ddof=1) / np.sqrt(3)  # t(0.975, 2) = 4.303
    assert summary['ci_half_width'] == pytest.approx(half, rel=1e-3)
    assert float(match.group(1)) == pytest.approx(mious.mean(), abs=5e-3)
    names = list(runs[0]['class_iou'])
    assert set(data['summary']['class_iou']) == set(names)
    for name in names:
        per_seed = [r['class_iou'][name] for r in runs]
        stat = data['summary']['class_iou'][name]
        assert stat['min'] == min(per_seed) and stat['max'] == max(per_seed)


def test_show_dir_needs_one_seed(tiny_config, trained, run_tool, tmp_path):
    proc = run_tool([
        'tools/test.py',
        str(tiny_config),
        str(trained / 'epoch_2.pth'), '--work-dir',
        str(tmp_path / 'wd'), '--seeds', '0', '1', '--show-dir',
        str(tmp_path / 'vis')
    ])
    assert proc.returncode != 0
    assert 'one seed at a time' in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_amp_runs_under_autocast(tiny_config, calibrated_checkpoint, run_tool,
                                 ok, tmp_path):
    stdout = ok(
        run_tool([
            'tools/test.py',
            str(tiny_config),
            str(calibrated_checkpoint), '--work-dir',
            str(tmp_path / 'wd'), '--amp'
        ]))
    assert re.match(r'^mIoU: \d+\.\d\d  FB-IoU: \d+\.\d\d  \(11 episodes',
                    lines_of(stdout)[-1])
    config = tmp_path / 'wd' / 'tiny_hsnet.py'  # the config the Runner ran
    assert "amp_dtype='auto'" in config.read_text()  # model.test_cfg


def test_amp_dtype_choice(tiny_config, calibrated_checkpoint, run_tool, ok,
                          tmp_path):
    """--amp-dtype picks the autocast dtype (the model's test_cfg); float16
    needs CUDA and is refused before anything runs on a CPU."""
    proc = run_tool([
        'tools/test.py',
        str(tiny_config),
        str(calibrated_checkpoint), '--work-dir',
        str(tmp_path / 'wd'), '--amp-dtype', 'bfloat16'
    ])
    assert proc.returncode == 2 and '--amp-dtype goes with --amp' in \
        proc.stderr
    ok(
        run_tool([
            'tools/test.py',
            str(tiny_config),
            str(calibrated_checkpoint), '--work-dir',
            str(tmp_path / 'wd'), '--amp', '--amp-dtype', 'bfloat16'
        ]))
    if not torch.cuda.is_available():
        proc = run_tool([
            'tools/test.py',
            str(tiny_config),
            str(calibrated_checkpoint), '--work-dir',
            str(tmp_path / 'wd2'), '--amp', '--amp-dtype', 'float16'
        ])
        assert proc.returncode == 2
        assert 'float16 autocast needs CUDA' in proc.stderr
        assert 'Traceback' not in proc.stderr
