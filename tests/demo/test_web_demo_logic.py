# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The web demo's episode logic (demo/web_episode.py) and its command line
refusals (demo/web_demo.py), without a server."""
import re
import socket

import numpy as np
import pytest
import torch
from PIL import Image

from hsnet_mm.apis import inference_episode, init_model
from hsnet_mm.utils import UserError, call_cli
from tests.apis.episode_helpers import box_mask, image, tiny_config
from tests.demo.demo_loader import load_demo


@pytest.fixture(scope='module')
def web():
    return load_demo('web_episode')


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(tiny_config())


def editor(img, painted=None):
    layers = []
    if painted is not None:
        layer = np.zeros((*painted.shape, 4), np.uint8)
        layer[painted > 0] = (255, 0, 0, 255)
        layers.append(layer)
    return dict(background=img, layers=layers, composite=img)


def test_painted_or_uploaded_masks(web, tmp_path):
    img = image(30, 40, 0)
    mask = box_mask(30, 40)
    imgs, masks, slots = web.collect_supports(
        [editor(img, mask), None,
         editor(img), None, None], [None, None, mask, None, None])
    assert len(imgs) == 2 and slots == [0, 2]
    np.testing.assert_array_equal(masks[0], mask > 0)
    np.testing.assert_array_equal(masks[1], mask > 0)
    # a canvas of another size is resized to the image
    small = box_mask(15, 20)
    _, masks, _ = web.collect_supports([editor(img, small)], [None])
    assert masks[0].shape == (30, 40) and masks[0].sum() > 0
    # an uploaded mask file is read with to_mask (any nonzero = object)
    path = tmp_path / 'mask.png'
    Image.fromarray(mask * 7).save(path)
    _, masks, _ = web.collect_supports([editor(img)], [str(path)])
    np.testing.assert_array_equal(masks[0], mask > 0)
    cases = [
        (([editor(img)], [None]), 'support 1: no mask'),
        (([editor(img, mask),
           None], [None, mask]), 'support 2: a mask but no image'),
        (([None, None], [None, None]), 'at least one support'),
        (([None, editor(img)], [None, box_mask(20, 20)]),
         'support 2: the mask is 20x20 but the image 40x30'),
        (([None, None,
           editor(img)], [None, None,
                          0 * mask]), 'support 3: the mask is empty'),
    ]
    for (editors, masks), pattern in cases:
        with pytest.raises(UserError, match=pattern):
            web.collect_supports(editors, masks)


def test_non_images_are_refused_by_their_header(web, tmp_path, monkeypatch):
    png = tmp_path / 'ok.png'
    Image.fromarray(image(20, 30, 0)).save(png)
    assert web.check_image_file(str(png), 'query') == str(png)
    monkeypatch.setenv('HSNET_MAX_PIXELS', '500')  # the API's pixel limit
    with pytest.raises(UserError, match='query is 30x20 .* over the limit'):
        web.check_image_file(str(png), 'query')
    monkeypatch.delenv('HSNET_MAX_PIXELS')
    text = tmp_path / 'notes.png'
    text.write_text('not an image')
    eps = tmp_path / 'x.eps'  # Pillow reads EPS through Ghostscript: refused
    eps.write_text('%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n')
    for path in (text, eps):
        with pytest.raises(UserError) as info:
            web.check_image_file(str(path), 'mask 2')
        assert str(info.value).startswith('mask 2: the file is not an image')
        assert str(tmp_path) not in str(info.value)
    # a PNG header with broken data fails in to_rgb: named, no server path
    broken = tmp_path / 'broken.png'
    broken.write_bytes(png.read_bytes()[:60])
    with pytest.raises(UserError) as info:
        web.read_image(str(broken), 'query')
    assert str(info.value).startswith('query: ') and str(tmp_path) not in str(
        info.value), info.value


def test_segment_matches_the_api(web, model):
    query = image(36, 52, 4)
    imgs = [image(30, 40, 1), image(40, 30, 2)]
    masks = [box_mask(30, 40), box_mask(40, 30)]
    overlay, votes, summary, last = web.segment(
        model, query, [None, editor(imgs[0], masks[0]),
                       editor(imgs[1])], [None, None, masks[1]], 0.5)
    ref = inference_episode(model, query, imgs, masks)
    pred = ref.pred_sem_seg.data[0].numpy()
    assert overlay.shape == query.shape
    np.testing.assert_array_equal(overlay[pred == 0], query[pred == 0])
    np.testing.assert_array_equal(last['pred'], pred)
    np.testing.assert_array_equal(last['image'], query)
    # shots are named by their UI slot, from 1
    assert [v[1].split(':')[0] for v in votes] == ['support 2', 'support 3']
    assert summary.startswith('2-shot') and '(supports 2, 3)' in summary
    with pytest.raises(UserError, match='upload a query'):
        web.segment(model, None, [editor(imgs[0], masks[0])], [None], 0.5)


def test_only_display_copies_are_kept(web, model, monkeypatch):
    monkeypatch.setattr(web, 'DISPLAY_MAX_PIXELS', 600)
    monkeypatch.setattr(web, 'VOTE_MAX_PIXELS', 150)
    query = image(40, 60, 3)
    overlay, votes, _, last = web.segment(
        model, query, [editor(image(30, 30, 1), box_mask(30, 30))], [None],
        0.5)
    assert overlay.shape == (20, 30, 3) and last['image'].shape == (20, 30, 3)
    assert last['pred'].shape == (20, 30)
    assert votes[0][0].shape[0] * votes[0][0].shape[1] <= 150
    assert web.display_size((12000, 12000), 4_000_000) == (2000, 2000)


def test_add_as_support(web):
    img = image(20, 30, 0)
    full = [editor(img)] * 5
    assert web.free_slot([None, editor(img), None, None, None], None) == 0
    assert web.free_slot([editor(img), None, None, None, None], None) == 1
    assert web.free_slot(full, 3) == 3
    with pytest.raises(
            UserError, match='all 5 support slots are full; '
            'choose a slot'):
        web.free_slot(full, None)
    pred = (box_mask(20, 30) > 0).astype(np.uint8)
    value = web.as_support(dict(image=img, pred=pred))
    assert value['background'] is img
    # the editor's value turns back into the same support
    _, masks, _ = web.collect_supports([value], [None])
    np.testing.assert_array_equal(masks[0], pred)
    with pytest.raises(UserError, match='segment a query first'):
        web.as_support(None)
    with pytest.raises(UserError, match='the prediction is empty'):
        web.as_support(dict(image=img, pred=0 * pred))


def _cli(argv, capsys):
    code = call_cli(load_demo('web_demo').main, argv)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    return code, err


def test_cli_refusals(tmp_path, capsys):
    cfg, ckpt = tmp_path / 'c.py', tmp_path / 'c.pth'
    cfg.write_text('')
    ckpt.write_bytes(b'')  # never read: every refusal comes first
    code, err = _cli([str(cfg), str(tmp_path / 'no.pth')], capsys)
    assert code == 2 and re.search(
        r'checkpoint file \(or export directory\) not found: .*no.pth',
        err), err
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, err = _cli([str(cfg), str(ckpt), '--port', str(port)], capsys)
    assert code == 2 and f'--port {port}: cannot listen on 127.0.0.1:' in err
    export = tmp_path / 'export'  # an export directory is a checkpoint too
    export.mkdir()
    (export / 'deploy.json').write_text('{}')
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, err = _cli([
            str(cfg),
            str(export), '--backend', 'openvino', '--port',
            str(port)
        ], capsys)
    assert code == 2 and f'--port {port}: cannot listen' in err
    code, err = _cli([str(cfg), str(ckpt), '--max-file-size', '2 lb'], capsys)
    assert code == 2 and 'expected a positive size' in err
    (tmp_path / 'empty').mkdir()
    code, err = _cli(
        [str(cfg),
         str(ckpt), '--examples-dir',
         str(tmp_path / 'empty')], capsys)
    assert code == 2 and 'no example episodes' in err


def test_parse_size():
    web_demo = load_demo('web_demo')
    assert web_demo.parse_size('20mb') == 20 * 2**20
    assert web_demo.parse_size('500KB') == 500 * 2**10
    assert web_demo.parse_size('123') == 123
    for bad in ('0', '-1mb', 'lots'):
        with pytest.raises(UserError):
            web_demo.parse_size(bad)


def test_api_messages_name_the_ui_slots(web):
    err = ValueError('shot 1: support_masks[1] has no foreground; '
                     'supports[0] is fine')
    assert web._shot_names(
        err,
        [0, 3
         ]) == ('support 4: support 4 has no foreground; support 1 is fine')


def test_copy_examples_copies_the_listed_files_only(tmp_path):
    web_demo = load_demo('web_demo')
    src = tmp_path / 'src'
    load_demo('make_examples').write_examples(str(src))
    (src / 'secret.txt').write_text('x')
    episodes = load_demo('make_examples').read_examples(str(src))
    out = tmp_path / 'out'
    copied = web_demo.copy_examples(episodes, str(out))
    assert sorted(p.name
                  for p in out.iterdir()) == sorted(p.name
                                                    for p in src.iterdir()
                                                    if p.suffix == '.png')
    assert copied[1]['masks'][2] == str(out / 'episode1_support2_mask.png')
    (src / 'episode0_query1.png').write_text('not an image')
    with pytest.raises(
            UserError, match='episode0_query1.png: the file is '
            'not an image'):
        web_demo.copy_examples(
            load_demo('make_examples').read_examples(str(src)),
            str(tmp_path / 'again'))


WEB_SEGMENT_SCRIPT = '''
sys.path.insert(0, 'demo')
import web_episode as web
from hsnet_mm.apis import init_model

model = init_model(sys.argv[2], sys.argv[3])
base = peak_kib()
support = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
mask = np.zeros((48, 64), np.uint8)
mask[10:30, 20:40] = 1
editor = dict(background=support, layers=[], composite=support)
overlay, votes, summary, last = web.segment(model, sys.argv[1], [editor],
                                            [mask], 0.5)
assert overlay.shape[0] * overlay.shape[1] <= web.DISPLAY_MAX_PIXELS
print(base, peak_kib())
'''


@pytest.mark.slow
def test_a_12000_x_12000_upload_peaks_under_2_gb(tmp_path):
    """The decoded upload is dropped once resized (the display copy is made
    first): the prediction and one query's working set (before: 1.9-2.0
    GiB, the upload held through the prediction)."""
    from tests.apis.episode_helpers import (measure_peak, tiny_files,
                                            write_large_png)
    from tests.helpers import REPO_ROOT
    config, checkpoint = tiny_files(tmp_path)
    huge = write_large_png(tmp_path / 'huge.png', 12000, 12000)
    base, peak = measure_peak(
        WEB_SEGMENT_SCRIPT, huge, config, checkpoint, cwd=REPO_ROOT)
    assert peak < 2 * 2**20, (base, peak)
