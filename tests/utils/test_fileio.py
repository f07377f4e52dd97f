# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import errno
import json
import os
import stat

import pytest

from hsnet_mm.utils import (atomic_dump_json, atomic_write_bytes,
                            atomic_write_text, fileio)
from hsnet_mm.utils.fileio import (NoSpaceError, check_writable,
                                   check_writable_dirs, current_umask,
                                   remove_temp_files)
from tests.mounts import small_tmpfs
from tests.read_only import read_only_folder


def test_atomic_writes(tmp_path):
    path = tmp_path / 'a' / 'b.txt'
    assert atomic_write_text(path, 'héllo') == str(path)
    assert path.read_text(encoding='utf-8') == 'héllo'
    atomic_write_bytes(path, b'\x00\x01')  # replaces
    assert path.read_bytes() == b'\x00\x01'
    atomic_dump_json(tmp_path / 'c.json', {'x': [1, 2]})
    assert json.loads((tmp_path / 'c.json').read_text()) == {'x': [1, 2]}
    assert sorted(os.listdir(tmp_path / 'a')) == ['b.txt']


def test_atomic_write_failure_keeps_old_file(tmp_path):
    path = tmp_path / 'keep.json'
    path.write_text('old')
    with pytest.raises(TypeError):
        atomic_dump_json(path, {'x': object()})
    with pytest.raises(TypeError):
        atomic_write_bytes(path, 'not bytes')
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['keep.json']


@pytest.mark.parametrize('umask', [0o022, 0o027, 0o002])
def test_atomic_writes_honour_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        path = atomic_write_bytes(tmp_path / 'out.bin', b'x')
        plain = tmp_path / 'plain.bin'
        plain.write_bytes(b'x')
    finally:
        os.umask(old)
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode == 0o666 & ~umask  # 0o644 under 022, not mkstemp's 0o600
    assert mode == stat.S_IMODE(plain.stat().st_mode)


def _full_disk_checks(folder):
    target = folder / 'big.bin'
    target.write_bytes(b'previous')
    with pytest.raises(NoSpaceError) as err:
        atomic_write_bytes(target, bytes(2 * 2**20))
    assert err.value.errno == errno.ENOSPC
    message = str(err.value)
    assert str(target) in message and '2097152 bytes' in message
    assert 'partial file was removed' in message
    assert target.read_bytes() == b'previous'
    assert sorted(os.listdir(folder)) == ['big.bin']


def test_full_disk_on_a_small_filesystem(tmp_path):
    with small_tmpfs(tmp_path / 'fs', '1m') as folder:
        _full_disk_checks(folder)


def test_full_disk_simulated(tmp_path, monkeypatch):
    """The same contract where no file system can be mounted."""
    real_fdopen = os.fdopen

    class FullDisk:

        def __init__(self, fd, mode):
            self.file = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.file.close()

        def write(self, data):
            self.file.write(data[:1000])  # a partial file, then ENOSPC
            raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(fileio.os, 'fdopen', FullDisk)
    _full_disk_checks(tmp_path)


def test_remove_temp_files(tmp_path):
    (tmp_path / 'sub').mkdir()
    left = [tmp_path / '.a.png.x1y2.tmp', tmp_path / 'sub' / '.b.png.z.tmp']
    kept = [tmp_path / 'a.png', tmp_path / 'notes.tmp', tmp_path / '.hidden']
    for p in left + kept:
        p.write_bytes(b'')
    assert remove_temp_files(tmp_path) == sorted(map(str, left))
    assert all(p.exists() for p in kept)
    assert remove_temp_files(tmp_path / 'missing') == []


def test_check_writable(tmp_path):
    (tmp_path / 'file.txt').write_text('')
    check_writable(None, tmp_path, tmp_path / 'new' / 'deeper' / 'res.json',
                   tmp_path / 'file.txt')
    assert sorted(os.listdir(tmp_path)) == ['file.txt']  # nothing created
    with pytest.raises(PermissionError, match='file.txt is a file'):
        check_writable(tmp_path / 'file.txt' / 'res.json')


def test_check_writable_refuses_a_read_only_mount(tmp_path):
    with small_tmpfs(tmp_path / 'ro', read_only=True) as folder:
        with pytest.raises(PermissionError, match='cannot be written'):
            check_writable(folder / 'out' / 'res.json')


def test_check_writable_dirs(tmp_path):
    (tmp_path / 'vis').write_text('a file named like the output folder')
    check_writable_dirs(None, tmp_path, tmp_path / 'new' / 'deeper')
    assert sorted(os.listdir(tmp_path)) == ['vis']  # nothing created
    with pytest.raises(
            NotADirectoryError,
            match=f'output folder {tmp_path}/vis is a file, not '
            'a folder'):
        check_writable_dirs(tmp_path / 'vis')
    with pytest.raises(
            NotADirectoryError,
            match=f'{tmp_path}/vis/sub cannot be created: '
            f'{tmp_path}/vis is a file'):
        check_writable_dirs(tmp_path / 'ok', tmp_path / 'vis' / 'sub')
    check_writable(tmp_path / 'vis')  # as an output *file* it is fine


def test_check_writable_dirs_refuses_a_read_only_folder(tmp_path):
    with read_only_folder(tmp_path / 'ro') as folder:
        with pytest.raises(PermissionError, match='cannot be written'):
            check_writable_dirs(folder / 'work_dir')
