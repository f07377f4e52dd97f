# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image

TOOL = Path(__file__).resolve().parents[2] / 'tools' / 'analysis_tools' / (
    'browse_dataset.py')

CONFIG = """
custom_imports = dict(imports=['hsnet_mm.datasets'],
                      allow_failed_imports=False)
default_scope = 'mmseg'
train_dataloader = dict(
    dataset=dict(
        type='SyntheticFewShotDataset', mode='train', shot=2,
        images_per_class=4,
        pipeline=[dict(type='LoadEpisode'),
                  dict(type='ResizeEpisode', scale=(64, 64)),
                  dict(type='PackEpisodeInputs')]))
test_dataloader = dict(
    dataset=dict(
        type='SyntheticFewShotDataset', mode='test', shot=1,
        pipeline=[dict(type='LoadEpisode'),
                  dict(type='ResizeEpisode', scale=(64, 64),
                       keep_query_gt_original=True),
                  dict(type='PackEpisodeInputs')]))
"""


def _run(monkeypatch, *args):
    spec = importlib.util.spec_from_file_location('browse_dataset', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', ['browse_dataset.py', *map(str, args)])
    module.main()


def test_browse_writes_episode_pngs(tmp_path, monkeypatch):
    config = tmp_path / 'synthetic.py'
    config.write_text(CONFIG)
    out = tmp_path / 'vis'
    _run(monkeypatch, config, '--output-dir', out, '--num', 3)
    files = sorted(out.glob('*.png'))
    assert [f.name for f in files
            ] == ['episode_0000.png', 'episode_0001.png', 'episode_0002.png']
    with Image.open(files[0]) as img:
        width, height = img.size
        pixels = np.array(img)
    assert width > 3 * 64 and height > 64  # 2 supports + query + gt
    assert pixels.std() > 10
    _run(monkeypatch, config, '--output-dir', out / 'test', '--num', 1,
         '--split', 'test', '--cfg-options', 'test_dataloader.dataset.fold=2')
    assert (out / 'test' / 'episode_0000.png').exists()
