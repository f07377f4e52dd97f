# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""AtomicLocalBackend: mmengine's file API writing through a temporary file
(the writer itself: tests/utils/test_fileio.py)."""
import errno
import os

import pytest
from mmengine import fileio as mm_fileio

from hsnet_mm.engine import AtomicLocalBackend
from hsnet_mm.utils import NoSpaceError, fileio

ATOMIC = dict(backend='atomic_local')


def test_selected_by_backend_args(tmp_path):
    backend = mm_fileio.get_file_backend(tmp_path, backend_args=ATOMIC)
    assert type(backend) is AtomicLocalBackend
    assert isinstance(backend, mm_fileio.LocalBackend)  # reads as before
    plain = mm_fileio.get_file_backend(tmp_path)
    assert type(plain) is not AtomicLocalBackend


def test_put_and_put_text(tmp_path):
    path = tmp_path / 'new' / 'sub' / 'epoch_1.pth'  # folders are created
    mm_fileio.put(b'\x00weights', path, backend_args=ATOMIC)
    assert mm_fileio.get(path, backend_args=ATOMIC) == b'\x00weights'
    mm_fileio.put(b'v2', str(path), backend_args=ATOMIC)  # replaces
    assert path.read_bytes() == b'v2'
    text = tmp_path / 'last_checkpoint'
    mm_fileio.put_text('épée', text, backend_args=ATOMIC)
    assert text.read_bytes() == 'épée'.encode('utf-8')
    AtomicLocalBackend().put_text('épée', text, encoding='latin-1')
    assert text.read_bytes() == b'\xe9p\xe9e'
    assert sorted(os.listdir(path.parent)) == ['epoch_1.pth']
    assert sorted(os.listdir(tmp_path)) == ['last_checkpoint', 'new']


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / 'best.pth'
    path.write_bytes(b'previous')

    def killed(tmp, dst):
        raise KeyboardInterrupt  # stands for a kill before the rename

    monkeypatch.setattr(fileio, 'commit_temp_file', killed)
    with pytest.raises(KeyboardInterrupt):
        mm_fileio.put(b'new', path, backend_args=ATOMIC)
    assert path.read_bytes() == b'previous'
    assert os.listdir(tmp_path) == ['best.pth']  # the temporary file is gone


def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    path = tmp_path / 'epoch_2.pth'

    def full(tmp, dst):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(fileio, 'commit_temp_file', full)
    with pytest.raises(NoSpaceError, match='epoch_2.pth needs 5 bytes'):
        mm_fileio.put(b'12345', path, backend_args=ATOMIC)
    assert os.listdir(tmp_path) == []


def test_put_refuses_text_and_keeps_the_file(tmp_path):
    path = tmp_path / 'f.bin'
    path.write_bytes(b'old')
    with pytest.raises(TypeError):
        mm_fileio.put('not bytes', path, backend_args=ATOMIC)
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['f.bin']
