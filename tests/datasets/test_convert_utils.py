# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The converters' helpers: atomic outputs, corrupt sources, parallel runs
(the converters themselves: tests/datasets/converters/)."""
import os

import numpy as np
import pytest
from PIL import Image

from hsnet_mm.datasets import convert_utils
from hsnet_mm.datasets.convert_utils import (CorruptFileError, Skipped,
                                             clean_temp_files, copy_file,
                                             reading, report_skipped,
                                             run_parallel, save_png)
from hsnet_mm.utils import UserError


def square(x):
    return x * x


def fail_on_odd(x):
    if x % 2:
        raise CorruptFileError(f'cannot read file{x}.png')
    return x


def test_reading_names_the_file_of_any_error():
    with reading('a/b.png'):
        pass  # no error, nothing raised
    with pytest.raises(
            CorruptFileError,
            match=r'cannot read a/b.png: OSError: truncated') as e:
        with reading('a/b.png'):
            raise OSError('truncated')
    assert isinstance(e.value.__cause__, OSError)
    assert isinstance(e.value, ValueError)  # callers may catch ValueError
    inner = CorruptFileError('cannot read c.png: x')
    with pytest.raises(CorruptFileError) as e:
        with reading('outer.png'):
            raise inner
    assert e.value is inner  # not wrapped twice


@pytest.mark.parametrize('shape', [(5, 7), (5, 7, 3)])
def test_save_png_round_trips_atomically(tmp_path, shape):
    array = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    path = tmp_path / 'new' / 'folder' / 'm.png'
    assert save_png(str(path), array) == str(path)
    assert np.array_equal(np.asarray(Image.open(path)), array)
    save_png(str(path), array[::-1])  # replaces
    assert np.array_equal(np.asarray(Image.open(path)), array[::-1])
    assert os.listdir(path.parent) == ['m.png']  # no temporary file left


def test_save_png_refuses_what_is_not_an_image(tmp_path):
    path = tmp_path / 'm.png'
    path.write_bytes(b'old')
    with pytest.raises(TypeError):
        save_png(str(path), np.zeros((2, 2, 2, 2), np.uint8))
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['m.png']


@pytest.mark.parametrize('link', [False, True])
def test_copy_file(tmp_path, link):
    src = tmp_path / 'src.jpg'
    src.write_bytes(b'jpeg bytes')
    dst = tmp_path / 'out' / 'dst.jpg'
    assert copy_file(str(src), str(dst), link=link) == str(dst)
    assert dst.read_bytes() == b'jpeg bytes'
    assert src.read_bytes() == b'jpeg bytes'
    assert os.path.samefile(src, dst) is link  # a hard link shares the inode
    assert os.listdir(dst.parent) == ['dst.jpg']


def test_copy_file_copies_where_links_fail(tmp_path, monkeypatch):

    def no_link(src, dst):
        open(dst, 'wb').close()  # a half-made link, then the failure
        raise OSError('cross-device link')

    monkeypatch.setattr(convert_utils.os, 'link', no_link)
    src = tmp_path / 'src.jpg'
    src.write_bytes(b'data')
    dst = tmp_path / 'dst.jpg'
    copy_file(str(src), str(dst), link=True)
    assert dst.read_bytes() == b'data' and not os.path.samefile(src, dst)
    assert sorted(os.listdir(tmp_path)) == ['dst.jpg', 'src.jpg']


def test_copy_file_of_a_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError):
        copy_file(str(tmp_path / 'missing'), str(tmp_path / 'dst'))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize('nproc', [1, 2])
def test_run_parallel_keeps_the_task_order(nproc):
    assert run_parallel(square, range(20), nproc) == [x * x for x in range(20)]
    assert run_parallel(square, [3], nproc) == [9]


def test_run_parallel_stops_or_skips_on_corrupt_files(capsys):
    with pytest.raises(CorruptFileError, match='file1.png'):
        run_parallel(fail_on_odd, range(4), 1)
    results = run_parallel(fail_on_odd, range(4), 1, skip_corrupt=True)
    assert results[0] == 0 and results[2] == 2
    assert isinstance(results[1], Skipped)
    assert repr(results[3]) == "Skipped('cannot read file3.png')"
    # other errors are bugs: they still stop the run
    with pytest.raises(ZeroDivisionError):
        run_parallel(lambda x: 1 // x, [1, 0], 1, skip_corrupt=True)
    capsys.readouterr()
    assert report_skipped(results) == [0, 2]
    out = capsys.readouterr().out
    assert '2 corrupt source file(s) skipped:' in out
    assert 'cannot read file1.png' in out and 'cannot read file3.png' in out
    assert report_skipped([1, 2]) == [1, 2]
    assert capsys.readouterr().out == ''


def test_clean_temp_files(tmp_path, capsys):
    keep = ['a.png', '.hidden', 'b.png.tmp', 'sub/c.png']
    temp = ['.a.png.x1y2.tmp', 'sub/.c.png.123.tmp']
    for name in keep + temp:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b'')
    removed = clean_temp_files(str(tmp_path))
    assert removed == sorted(str(tmp_path / n) for n in temp)
    assert all((tmp_path / n).exists() for n in keep)
    assert not any((tmp_path / n).exists() for n in temp)
    assert 'removed 2 unfinished temporary file(s)' in capsys.readouterr().out
    assert clean_temp_files(str(tmp_path)) == []
    assert clean_temp_files(str(tmp_path / 'missing')) == []
    assert capsys.readouterr().out == ''


def test_check_folders(tmp_path):
    check_folders = convert_utils.check_folders
    src = tmp_path / 'src'
    (src / 'masks').mkdir(parents=True)
    (tmp_path / 'link').symlink_to(src / 'masks')
    check_folders(str(src), [str(tmp_path / 'out'), None, str(src / 'sub')])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['link', 'src']
    with pytest.raises(UserError, match='must differ from VOC_ROOT'):
        check_folders(
            str(src), [str(tmp_path / 'link')],
            sources=[str(src / 'masks')],
            src_arg='VOC_ROOT')
    with pytest.raises(UserError, match='must not lie inside SRC'):
        check_folders(str(src), [str(src / 'out')], out_inside_src=False)
    with pytest.raises(FileNotFoundError, match='is not a folder'):
        check_folders(str(tmp_path / 'none'), [str(tmp_path / 'out')])
    (tmp_path / 'f').write_text('')
    with pytest.raises(NotADirectoryError, match='f is not a folder'):
        check_folders(str(tmp_path / 'f'), [str(tmp_path / 'out')])
    with pytest.raises(NotADirectoryError, match='is a file, not a folder'):
        check_folders(str(src), [str(tmp_path / 'f')])


def test_check_nproc_and_count_skipped():
    check_nproc, count_skipped = (convert_utils.check_nproc,
                                  convert_utils.count_skipped)
    assert check_nproc(2) == 2
    with pytest.raises(UserError, match='must be >= 1, got 0'):
        check_nproc(0)
    assert count_skipped(['done', Skipped('x'), 'skipped', Skipped('y')]) == 2
