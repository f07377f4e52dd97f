# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import json
import os

import pytest

from hsnet_mm.utils import (atomic_dump_json, atomic_write_bytes,
                            atomic_write_text)


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


def test_atomic_writes_get_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / 'p.bin', b'x')
    finally:
        os.umask(old)
    assert os.stat(path).st_mode & 0o777 == 0o644
