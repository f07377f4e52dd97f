# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import importlib.util

import pytest

from tests.apis.episode_helpers import tiny_files
from tests.helpers import REPO_ROOT


@pytest.mark.slow
def test_support_reuse_speed_reports_both(tmp_path, capsys):
    cfg, _ = tiny_files(tmp_path)
    spec = importlib.util.spec_from_file_location(
        'support_reuse_speed',
        REPO_ROOT / 'tools' / 'analysis_tools' / 'support_reuse_speed.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    report = tool.main([
        cfg, '--queries', '2', '--shots', '1', '2', '--repeat', '1', '--size',
        '30', '40'
    ])
    assert set(report) == {'1-shot', '2-shot'}
    for row in report.values():
        assert row['shared_s'] > 0 and row['episodes_s'] > 0
        assert row['speedup'] > 0
    assert '2 episodes' in capsys.readouterr().out
