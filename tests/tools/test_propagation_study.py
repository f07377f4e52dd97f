# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""propagation_study: the generated video, the IoU, the report."""
import importlib.util
import json

import numpy as np
import pytest

from hsnet_mm.utils.cli import call_cli
from tests.apis.episode_helpers import tiny_files
from tests.helpers import REPO_ROOT


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location(
        'propagation_study',
        REPO_ROOT / 'tools' / 'analysis_tools' / 'propagation_study.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_video_moves_grows_and_changes_colour(tool):
    renderer = tool.make_renderer(96, 0, 0)
    assert tool.held_out_classes(0) == renderer.distractor_classes
    c = tool.held_out_classes(0)[0]
    imgs, masks = tool.render_video(renderer, c, 12, seed=0)
    assert len(imgs) == len(masks) == 12
    assert imgs[0].shape == (96, 96, 3) and imgs[0].dtype == np.uint8
    assert set(np.unique(masks[0])) == {0, 1}
    areas = [m.sum() for m in masks]
    assert areas[-1] > 3 * areas[0]  # the scale changes
    centres = [np.argwhere(m).mean(0) for m in masks]
    assert np.abs(centres[-1] - centres[0]).max() > 30  # it moves
    colour = [img[m > 0].mean(0) for img, m in zip(imgs, masks)]
    assert colour[-1].max() < 0.8 * colour[0].max()  # it darkens
    assert np.abs(colour[-1] - colour[0]).min() > 30  # and drifts in hue
    again, _ = tool.render_video(renderer, c, 12, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(imgs, again))
    other, _ = tool.render_video(renderer, c, 12, seed=1)
    assert not np.array_equal(imgs[0], other[0])


def test_iou(tool):
    a = np.zeros((4, 4), np.uint8)
    b = np.zeros((4, 4), np.uint8)
    assert tool.iou(a, b) == 100.0
    a[:2] = 255
    assert tool.iou(a, b) == 0.0
    b[1:3] = 1
    assert tool.iou(a, b) == pytest.approx(100 / 3)


def test_report_with_and_without_propagation(tool, tmp_path, capsys):
    cfg, ckpt = tiny_files(tmp_path / 'model')
    out = tmp_path / 'r.json'
    report = tool.main([
        cfg, ckpt, '--frames', '4', '--size', '48', '--classes', '0', '2',
        '--propagate', '2', '--support', 'frame0', '--work-dir',
        str(tmp_path / 'work'), '--out',
        str(out)
    ])
    assert json.loads(out.read_text()) == report
    assert [v['class_id'] for v in report['videos']] == [0, 2]
    for video in report['videos']:
        assert set(video['modes']) == {'0', '2'}
        for row in video['modes'].values():
            assert len(row['iou']) == 4
            assert all(0 <= x <= 100 for x in row['iou'])
            assert row['mean_iou'] == pytest.approx(
                np.mean(row['iou']), abs=0.01)
            assert row['fps'] > 0
    every = {
        n: [x for v in report['videos'] for x in v['modes'][n]['iou']]
        for n in ('0', '2')
    }
    for n, values in every.items():
        assert report['mean_iou'][n] == pytest.approx(
            np.mean(values), abs=0.01)
    assert report['gain'] == pytest.approx(
        report['mean_iou']['2'] - report['mean_iou']['0'], abs=0.01)
    assert report['keep'] == (report['gain'] >= 1.0)
    text = capsys.readouterr().out
    assert 'IoU per frame' in text and 'verdict:' in text
    assert (tmp_path / 'work' / 'class000' / 'propagate2' / 'masks').is_dir()


def test_bad_arguments(tool, tmp_path, capsys):
    assert call_cli(tool.main, ['c.py', 'x.pth', '--propagate', '0']) == 2
    assert '--propagate' in capsys.readouterr().err
    assert call_cli(tool.main, ['c.py', 'x.pth', '--classes', '99']) == 2
