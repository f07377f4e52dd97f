# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""label_folder: streamed masks equal inference_episode's, every format
opened back, bad files skipped and listed, resume after an interruption,
no mixing of runs, a summary and a contact sheet."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from pycocotools.coco import COCO

import hsnet_mm.apis.folder_labelling as folder_labelling
from hsnet_mm.apis import inference_episode, init_model, label_folder
from hsnet_mm.utils import UserError
from tests.apis.episode_helpers import image, support_set, tiny_config


@pytest.fixture(scope='module')
def model():
    """The tiny HSNet with its foreground bias set so that about half of a
    query's pixels are foreground (random weights predict all of it)."""
    torch.manual_seed(0)
    model = init_model(tiny_config())
    imgs, masks = support_set(1)
    logits = inference_episode(model, image(50, 60, 3), imgs,
                               masks).seg_logits.data
    with torch.no_grad():
        model.decode_head.conv_seg.bias[1] -= (logits[1] - logits[0]).median()
    return model


def make_folder(root: Path, n: int = 6) -> Path:
    """n images of different sizes (one in a sub-folder), a text file, a
    corrupt image and a hidden file."""
    (root / 'sub').mkdir(parents=True)
    for i in range(n):
        path = root / ('sub' if i == 2 else '.') / f'img{i}.png'
        Image.fromarray(image(36 + 5 * i, 70 - 3 * i, i)).save(path)
    (root / 'notes.txt').write_text('not an image')
    (root / 'broken.jpg').write_bytes(b'\xff\xd8 truncated')
    (root / '.hidden.png').write_bytes(b'ignored')
    return root


def run(model, src, out, supports=None, **kwargs) -> dict:
    imgs, masks = supports or support_set(1)
    kwargs.setdefault('formats', ('png', 'coco', 'labelme'))
    return label_folder(
        model, imgs, masks, str(src), str(out), progress=False, **kwargs)


def files_of(folder: Path) -> dict:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob('*'))
        if p.is_file() and p.name != 'summary.json'
    }


def test_outputs_equal_inference_episode_and_open_back(model, tmp_path):
    src, out = make_folder(tmp_path / 'in'), tmp_path / 'out'
    summary = run(model, src, out, label='cup')
    names = [
        'img0.png', 'img1.png', 'img3.png', 'img4.png', 'img5.png',
        'sub/img2.png'
    ]
    assert summary['processed'] == summary['labelled'] == 6
    assert summary['resumed'] == 0 and summary['files'] == 8
    assert [s['file']
            for s in summary['skipped']] == ['broken.jpg', 'notes.txt']
    assert 'cannot read image' in summary['skipped'][0]['reason']
    assert summary['images_per_s'] > 0
    assert json.loads((out / 'summary.json').read_text()) == summary
    coco = COCO(str(out / 'coco.json'))
    imgs, masks = support_set(1)
    fractions = []
    for img_id, name in enumerate(names, 1):
        want = inference_episode(model, str(src / name), imgs,
                                 masks).pred_sem_seg.data[0].numpy()
        png = np.array(Image.open(out / 'masks' / name))
        assert png.shape == want.shape and set(np.unique(png)) <= {0, 255}
        assert np.array_equal(png > 0, want == 1), name
        fractions.append(want.mean())
        assert coco.imgs[img_id]['file_name'] == name
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        decoded = sum(coco.annToMask(a) for a in anns)
        assert np.array_equal(decoded > 0, want == 1)
        doc = json.loads(
            (out / 'labelme' / name).with_suffix('.json').read_text())
        assert (src / name).samefile(
            (out / 'labelme' / name).parent / doc['imagePath'])
        assert {s['label'] for s in doc['shapes']} <= {'cup', 'cup_hole'}
    assert 0.05 < np.mean(fractions) < 0.95  # masks are not trivial
    assert (out / 'contact_sheet.jpg').is_file()
    assert summary['empty'] == [n for n, f in zip(names, fractions) if not f]
    assert not list(out.rglob('.*.tmp'))


def test_interrupted_run_resumes_to_the_same_outputs(model, tmp_path,
                                                     monkeypatch, capsys):
    src = make_folder(tmp_path / 'in')
    run(model, src, tmp_path / 'ref', formats=('png', 'coco'))
    calls = []
    record = folder_labelling.image_record

    def stop_after_three(*args):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # as a kill between two writes
        return record(*args)

    monkeypatch.setattr(folder_labelling, 'image_record', stop_after_three)
    out = tmp_path / 'out'
    with pytest.raises(KeyboardInterrupt):
        run(model, src, out, formats=('png', 'coco'))
    assert len(list((out / 'records').rglob('*.json'))) == 3
    assert len(list((out / 'masks').rglob('*.png'))) == 4  # 4th: no record
    assert not (out / 'coco.json').exists()
    monkeypatch.undo()
    capsys.readouterr()
    summary = run(model, src, out, formats=('png', 'coco'))
    assert '3 of 7 images already labelled' in capsys.readouterr().out
    assert (summary['resumed'], summary['processed']) == (3, 3)
    assert summary['labelled'] == 6
    assert files_of(out) == files_of(tmp_path / 'ref')
    # a rerun with one more format labels again only for that format
    summary = run(model, src, out, formats=('png', 'coco', 'labelme'))
    assert (summary['resumed'], summary['processed']) == (0, 6)
    summary = run(model, src, out, formats=('png', ))
    assert (summary['resumed'], summary['processed']) == (6, 0)


def test_another_support_set_or_label_is_not_mixed_in(model, tmp_path):
    src, out = make_folder(tmp_path / 'in', n=2), tmp_path / 'out'
    run(model, src, out, formats=('png', ))
    (out / 'mine.txt').write_text('kept')
    imgs, masks = support_set(2)
    with pytest.raises(UserError, match='another support set'):
        run(model, src, out, (imgs, masks))
    with pytest.raises(UserError, match='another label'):
        run(model, src, out, label='dog')
    summary = run(model, src, out, (imgs, masks), overwrite=True)
    assert (summary['resumed'], summary['processed']) == (0, 2)
    assert (out / 'mine.txt').read_text() == 'kept'
    manifest = json.loads((out / 'manifest.json').read_text())
    assert len(manifest['supports']) == 2


def test_bad_inputs_are_user_errors(model, tmp_path):
    (tmp_path / 'empty').mkdir()
    with pytest.raises(UserError, match=r"formats \['tiff'\]"):
        run(model, tmp_path / 'empty', tmp_path / 'out', formats=['tiff'])
    with pytest.raises(UserError, match='no files found'):
        run(model, tmp_path / 'empty', tmp_path / 'out')
    (tmp_path / 'empty' / 'a.txt').write_text('text')
    with pytest.raises(UserError, match='none of its 1 files is an image'):
        run(model, tmp_path / 'empty', tmp_path / 'out')
    with pytest.raises(UserError, match='no such folder'):
        run(model, tmp_path / 'nowhere', tmp_path / 'out')
    clash = make_folder(tmp_path / 'clash', n=1)
    Image.fromarray(image(20, 20, 0)).save(clash / 'img0.jpg')
    with pytest.raises(UserError, match='img0.jpg and img0.png'):
        run(model, clash, tmp_path / 'out')
    tiny = np.zeros((400, 400), np.uint8)
    tiny[5, 5] = 1  # vanishes at the 48 x 64 input size
    src = make_folder(tmp_path / 'in', n=1)
    with pytest.raises(UserError, match='vanishes'):
        run(model, src, tmp_path / 'out2',
            ([np.zeros((400, 400, 3), np.uint8)], [tiny]))
