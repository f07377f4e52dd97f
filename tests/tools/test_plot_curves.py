# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/analysis_tools/plot_curves.py."""
import cv2


def test_plot_curves_writes_png(trained, run_tool, ok, tmp_path):
    out = tmp_path / 'curves.png'
    stdout = ok(
        run_tool([
            'tools/analysis_tools/plot_curves.py',
            str(trained), '--out',
            str(out)
        ]))
    assert '8 loss and 2 mIoU records from 1 log(s)' in stdout
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 0  # not a blank canvas


def test_plot_curves_without_log_fails_clearly(run_tool, tmp_path):
    (tmp_path / '20240101_000000' / 'vis_data').mkdir(parents=True)
    proc = run_tool(['tools/analysis_tools/plot_curves.py', str(tmp_path)])
    assert proc.returncode == 2
    assert 'no scalar log' in proc.stderr
    assert 'Traceback' not in proc.stderr
    assert list(tmp_path.glob('*.png')) == []
