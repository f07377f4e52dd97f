# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import numpy as np
import pytest
from PIL import Image

TOOL = 'dataset_converters/fss1000.py'


def _make_src(tmp_path):
    src = tmp_path / 'fewshot_data'
    for cat in ('ant', 'bee'):
        (src / cat).mkdir(parents=True)
        for n in range(1, 4):
            Image.fromarray(np.full((6, 6, 3), 50 * n,
                                    np.uint8)).save(src / cat / f'{n}.jpg')
            mask = np.zeros((6, 6, 3), np.uint8)
            mask[1:4, 1:4] = 255
            mask[5, 5] = 100
            Image.fromarray(mask).save(src / cat / f'{n}.png')  # RGB
    Image.fromarray(np.zeros((6, 6, 3), np.uint8)).save(src / 'bee' / '9.jpg')
    return src


def test_convert_and_resume(tmp_path, run_tool, snapshot, capsys):
    src = _make_src(tmp_path)
    sources = snapshot(src)
    out = tmp_path / 'FSS-1000'
    split_dir = tmp_path / 'splits'
    split_dir.mkdir()
    for split, cats in dict(trn='ant\n', val='bee\n', test='cow\n').items():
        (split_dir / f'{split}.txt').write_text(cats)
    run_tool(TOOL, src, '-o', out, '--nproc', 2, '--split-dir', split_dir)
    log = capsys.readouterr().out
    assert 'bee/9.jpg has no mask' in log
    assert "categories of test.txt are missing, e.g. ['cow']" in log
    assert sorted(p.name for p in (out / 'bee').iterdir()) == [
        '1.jpg', '1.png', '2.jpg', '2.png', '3.jpg', '3.png'
    ]
    with Image.open(out / 'ant' / '2.png') as img:
        assert img.mode == 'L'
        mask = np.array(img)
    assert set(np.unique(mask)) == {0, 255} and mask[5, 5] == 0
    assert (out / 'ant/2.jpg').read_bytes() == (src / 'ant/2.jpg').read_bytes()
    assert snapshot(src) == sources
    (out / 'ant' / '1.png').unlink()
    (out / 'ant' / '3.jpg').write_bytes(b'kept')
    run_tool(TOOL, src, '-o', out, '--nproc', 1, '--link')
    assert (out / 'ant' / '1.png').exists()
    assert (out / 'ant' / '3.jpg').read_bytes() == b'kept'
    assert 'already there' in capsys.readouterr().out


def test_bad_inputs(tmp_path, run_tool):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        run_tool(TOOL, tmp_path / 'nowhere', '-o', tmp_path / 'out')
    with pytest.raises(ValueError, match='must differ'):
        run_tool(TOOL, tmp_path, '-o', tmp_path)
    # issue 26: an empty SRC, --nproc 0 and a missing --split-dir (found
    # before the conversion, which writes nothing) are refused
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(ValueError, match='holds no FSS-1000 image/mask'):
        run_tool(TOOL, empty, '-o', tmp_path / 'out')
    src = _make_src(tmp_path)
    for nproc in (0, -2):
        with pytest.raises(ValueError, match='must be >= 1'):
            run_tool(TOOL, src, '-o', tmp_path / 'out', '--nproc', nproc)
    with pytest.raises(FileNotFoundError, match='split-dir.*trn.txt'):
        run_tool(TOOL, src, '-o', tmp_path / 'out', '--split-dir',
                 tmp_path / 'no_splits')
    assert not (tmp_path / 'out').exists()


def test_corrupt_masks_are_named_or_skipped(tmp_path, run_tool, capsys):
    src = _make_src(tmp_path)
    bad = src / 'bee' / '2.png'
    bad.write_bytes(bad.read_bytes()[:40])  # truncated PNG
    out = tmp_path / 'FSS-1000'
    with pytest.raises(ValueError, match=f'cannot read {bad}'):
        run_tool(TOOL, src, '-o', out, '--nproc', 1)
    run_tool(TOOL, src, '-o', out, '--nproc', 1, '--skip-corrupt')
    log = capsys.readouterr().out
    assert '1 corrupt source file(s) skipped:' in log and str(bad) in log
    assert ' already there, 1 corrupt (skipped), in ' in log
    assert not (out / 'bee' / '2.png').exists()
    assert (out / 'bee' / '3.png').exists()
