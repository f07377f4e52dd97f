# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import os
import stat

import numpy as np
import pytest
from PIL import Image

scipy_io = pytest.importorskip('scipy.io')

TOOL = 'dataset_converters/pascal5i.py'


def _voc_png(path, mask):
    img = Image.fromarray(mask).convert('P')
    img.putpalette([0, 0, 0, 128, 0, 0] * 128)
    img.save(path)


def _make_sources(tmp_path):
    voc = tmp_path / 'VOCdevkit' / 'VOC2012'
    (voc / 'SegmentationClass').mkdir(parents=True)
    sbd = tmp_path / 'benchmark_RELEASE' / 'dataset'
    (sbd / 'cls').mkdir(parents=True)
    voc_mask = np.array([[0, 1, 255], [15, 15, 0]], np.uint8)
    _voc_png(voc / 'SegmentationClass' / '2007_000001.png', voc_mask)
    masks = {
        '2007_000001': np.full((2, 3), 9, np.uint8),  # VOC wins
        '2008_000002': np.array([[0, 20, 3]], np.uint8)
    }
    for name, mask in masks.items():
        scipy_io.savemat(
            sbd / 'cls' / f'{name}.mat',
            {'GTcls': {
                'Segmentation': mask,
                'CategoriesPresent': [1]
            }})
    return voc, sbd, {
        '2007_000001': voc_mask,
        '2008_000002': masks['2008_000002']
    }


@pytest.mark.parametrize('nproc', [1, 2])
def test_convert_and_resume(tmp_path, run_tool, snapshot, nproc):
    voc, sbd, expect = _make_sources(tmp_path)
    sources = snapshot(tmp_path)
    run_tool(TOOL, voc, '--sbd-root', sbd, '--nproc', nproc)
    out = voc / 'SegmentationClassAug'
    assert sorted(p.name for p in out.iterdir()) == [
        '2007_000001.png', '2008_000002.png'
    ]
    for name, mask in expect.items():
        with Image.open(out / f'{name}.png') as img:
            assert img.mode == 'L'
            assert np.array_equal(np.array(img), mask)
    # sources untouched
    after = snapshot(tmp_path)
    assert all(after[k] == v for k, v in sources.items())
    # resume: a finished file is kept, a missing one is rebuilt
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(out / '2007_000001.png')
    (out / '2008_000002.png').unlink()
    run_tool(TOOL, voc, '--sbd-root', sbd, '--nproc', nproc)
    with Image.open(out / '2007_000001.png') as img:
        assert img.size == (1, 1)
    with Image.open(out / '2008_000002.png') as img:
        assert np.array_equal(np.array(img), expect['2008_000002'])
    assert not [p for p in out.iterdir() if p.suffix != '.png']


def test_bad_inputs(tmp_path, run_tool):
    with pytest.raises(FileNotFoundError, match='SegmentationClass'):
        run_tool(TOOL, tmp_path)
    voc, sbd, _ = _make_sources(tmp_path)
    with pytest.raises(FileNotFoundError, match='cls'):
        run_tool(TOOL, voc, '--sbd-root', tmp_path)
    scipy_io.savemat(sbd / 'cls' / 'bad.mat', {'x': 1})
    with pytest.raises(ValueError, match='bad.mat'):
        run_tool(TOOL, voc, '--sbd-root', sbd, '--nproc', 1)


def test_corrupt_sources_are_named_or_skipped(tmp_path, run_tool, capsys):
    """A corrupt .mat used to abort with 'Unknown mat file type, version
    103, 101' and no file name."""
    voc, sbd, expect = _make_sources(tmp_path)
    bad = sbd / 'cls' / '2009_000003.mat'
    header = b'MATLAB 5.0 MAT-file'.ljust(124, b' ')
    bad.write_bytes(header + b'geIM' + bytes(64))  # 'version 101, 103'
    out = voc / 'SegmentationClassAug'
    with pytest.raises(ValueError, match=f'cannot read {bad}: .*version'):
        run_tool(TOOL, voc, '--sbd-root', sbd, '--nproc', 1)
    # a killed earlier run left a temporary file: removed on the next run
    out.mkdir(exist_ok=True)
    (out / '.2007_000001.png.abc123.tmp').write_bytes(b'half')
    run_tool(TOOL, voc, '--sbd-root', sbd, '--nproc', 2, '--skip-corrupt')
    log = capsys.readouterr().out
    assert 'removed 1 unfinished temporary file(s)' in log
    assert '1 corrupt source file(s) skipped:' in log
    assert f'cannot read {bad}' in log
    # counted as corrupt, not as 'already there' (the first run wrote the
    # two good masks before it stopped at the corrupt one)
    assert '0 masks written, 2 already there, 1 corrupt (skipped)' in log
    assert sorted(p.name for p in out.iterdir()) == sorted(f'{name}.png'
                                                           for name in expect)


def test_outputs_honour_the_umask(tmp_path, run_tool):
    """They were owner-only (0600) whatever the umask."""
    voc, sbd, _ = _make_sources(tmp_path)
    old = os.umask(0o022)
    try:
        run_tool(TOOL, voc, '--sbd-root', sbd, '--nproc', 1)
    finally:
        os.umask(old)
    for path in (voc / 'SegmentationClassAug').iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
