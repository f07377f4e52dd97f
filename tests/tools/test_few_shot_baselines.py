# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import json
import sys

import PIL
import pytest
import torch

from tests.helpers import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / 'tools' / 'analysis_tools'))
from few_shot_baselines import VARIANTS, other_class_order  # noqa: E402


def test_other_class_order():
    assert other_class_order([3, 3, 5, 7]) == [2, 2, 3, 0]
    order = other_class_order([1, 2, 1, 2])
    assert all(a != b
               for a, b in zip([1, 2, 1, 2], [[1, 2, 1, 2][i] for i in order]))
    assert other_class_order([4], [4, 4, 6]) == [2]  # from an earlier batch
    with pytest.raises(ValueError, match='two classes'):
        other_class_order([4, 4])


def test_table(tiny_config, calibrated_checkpoint, run_tool, ok, tmp_path):
    out = tmp_path / 'baselines.json'
    stdout = ok(
        run_tool([
            'tools/analysis_tools/few_shot_baselines.py',
            str(tiny_config),
            str(calibrated_checkpoint), '--out',
            str(out)
        ]))
    table = json.loads(out.read_text())
    assert list(table) == [*VARIANTS, 'environment']
    env = table['environment']  # the versions that decide the numbers
    assert env['torch'] == torch.__version__ and env['Pillow'] == (
        PIL.__version__)
    for name in VARIANTS:
        assert name in stdout
    assert table['all background']['mIoU'] == 0
    assert table['all foreground']['mIoU'] > 0
    res = run_tool([
        'tools/analysis_tools/few_shot_baselines.py',
        str(tiny_config),
        str(tmp_path / 'missing.pth')
    ])
    assert res.returncode == 2 and 'not found' in res.stderr
    assert 'Traceback' not in res.stderr
