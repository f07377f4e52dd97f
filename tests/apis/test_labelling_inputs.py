# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Input listing, output stems, hashes and the output folder's manifest."""
import json

import numpy as np
import pytest
import torch

from hsnet_mm.apis.labelling_inputs import (check_out_dir, file_digest,
                                            is_done, is_video, list_inputs,
                                            make_manifest, output_stems,
                                            start_out_dir)
from hsnet_mm.utils import UserError


@pytest.fixture
def tree(tmp_path):
    for rel in ('b.png', 'a.jpg', 'sub/c.png', 'sub/deep/d.txt', '.hid.png',
                '.cache/e.png', 'out/records/x.json'):
        path = tmp_path / 'in' / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rel.encode())
    return tmp_path / 'in'


def test_list_inputs_folder_glob_and_file(tree, tmp_path):
    root, files = list_inputs(str(tree), exclude=str(tree / 'out'))
    assert root == str(tree)
    assert files == ['a.jpg', 'b.png', 'sub/c.png', 'sub/deep/d.txt']
    root, files = list_inputs(str(tree / '**' / '*.png'))
    assert root == str(tree) and files == ['b.png', 'sub/c.png']
    root, files = list_inputs(str(tree / 'sub' / 'c.png'))
    assert (root, files) == (str(tree / 'sub'), ['c.png'])
    with pytest.raises(UserError, match='no files found'):
        list_inputs(str(tree / '*.bmp'))
    with pytest.raises(UserError, match='no such folder or file'):
        list_inputs(str(tmp_path / 'nowhere'))


def test_output_stems_refuse_a_clash():
    assert output_stems(['a.jpg', 'sub/a.png']) == {
        'a.jpg': 'a',
        'sub/a.png': 'sub/a'
    }
    with pytest.raises(UserError, match='a.jpg and a.png'):
        output_stems(['a.jpg', 'a.png'])


def test_is_video(tmp_path):
    (tmp_path / 'clip.MP4').write_bytes(b'')
    (tmp_path / 'x.png').write_bytes(b'')
    assert is_video(str(tmp_path / 'clip.MP4'))
    assert not is_video(str(tmp_path / 'x.png'))
    assert not is_video(str(tmp_path / 'gone.mp4'))
    assert not is_video(str(tmp_path))


def test_digests(tree):
    a = file_digest(str(tree / 'a.jpg'))
    assert a == file_digest(str(tree / 'a.jpg')) != file_digest(
        str(tree / 'b.png'))
    folder = file_digest(str(tree / 'sub'))
    (tree / 'sub' / 'deep' / 'd.txt').write_text('changed')
    assert file_digest(str(tree / 'sub')) != folder


def test_manifest_guards_the_output_folder(tmp_path):
    model = torch.nn.Linear(2, 2)
    model.cfg = type('Cfg', (), {'pretty_text': 'model = 1'})()
    img, mask = np.zeros((4, 5, 3), np.uint8), np.ones((4, 5), np.uint8)
    one = make_manifest(model, None, [img], [mask], 'cup')
    assert one == make_manifest(model, None, [img], [mask], 'cup')
    other = make_manifest(model, None, [img], [1 - mask], 'cup')
    assert other['supports'] != one['supports']
    assert make_manifest(model, dict(x=1), [img], [mask],
                         'cup')['model'] == dict(x=1)
    out = str(tmp_path / 'out')
    check_out_dir(out, one, False)  # nothing there yet
    start_out_dir(out, one, False)
    check_out_dir(out, one, False)
    with pytest.raises(UserError, match='another support set'):
        check_out_dir(out, other, False)
    check_out_dir(out, other, True)
    (tmp_path / 'out' / 'records').mkdir()
    (tmp_path / 'out' / '.coco.json.x1.tmp').write_text('{')  # killed
    (tmp_path / 'out' / 'keep.txt').write_text('mine')
    start_out_dir(out, other, True)
    assert sorted(p.name for p in (tmp_path / 'out').iterdir()) == [
        'keep.txt', 'manifest.json'
    ]
    assert json.loads((tmp_path / 'out' / 'manifest.json').read_text()) == (
        json.loads(json.dumps(other)))
    (tmp_path / 'out' / 'manifest.json').unlink()
    (tmp_path / 'out' / 'records').mkdir()
    with pytest.raises(UserError, match='without a manifest'):
        check_out_dir(out, one, False)


def test_is_done_needs_the_record_and_each_format(tmp_path):
    (tmp_path / 'masks' / 'sub').mkdir(parents=True)
    (tmp_path / 'masks' / 'sub' / 'a.png').write_bytes(b'')
    assert not is_done(str(tmp_path), 'sub/a', ['png'])
    (tmp_path / 'records' / 'sub').mkdir(parents=True)
    (tmp_path / 'records' / 'sub' / 'a.json').write_text('{}')
    assert is_done(str(tmp_path), 'sub/a', ['png', 'coco'])
    assert not is_done(str(tmp_path), 'sub/a', ['labelme'])
