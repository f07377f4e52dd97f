# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""FewShotInferencer: MMSegInferencer-style outputs and files."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

import hsnet_mm  # noqa: F401
from hsnet_mm.apis import FewShotInferencer, inference_episode
from hsnet_mm.utils import CheckpointMismatchError
from tests.apis.episode_helpers import box_mask, image, tiny_files


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('inferencer')
    cfg, ckpt = tiny_files(folder / 'model')
    paths = dict(cfg=cfg, ckpt=ckpt)
    for name, arr in (('q0', image(40, 60, 0)), ('q1', image(50, 30, 1)),
                      ('s0', image(44, 44, 2)), ('m0', box_mask(44, 44)),
                      ('s1', image(30, 50, 3)), ('m1', box_mask(30, 50, 1))):
        paths[name] = str(folder / f'{name}.png')
        Image.fromarray(arr).save(paths[name])
    return paths


@pytest.fixture(scope='module')
def inferencer(files):
    return FewShotInferencer(files['cfg'], weights=files['ckpt'])


def listing(folder):
    return sorted(
        os.path.relpath(os.path.join(r, f), folder)
        for r, _, fs in os.walk(folder) for f in fs)


def test_outputs_and_files(inferencer, files, tmp_path):
    supports, masks = [files['s0'], files['s1']], [files['m0'], files['m1']]
    out = inferencer([files['q0'], files['q1']],
                     supports,
                     masks,
                     out_dir=str(tmp_path),
                     return_vis=True,
                     opacity=0.4)
    preds, vis = out['predictions'], out['visualization']
    assert len(preds) == 2 and len(vis) == 2
    assert preds[0]['sem_seg'].shape == (40, 60)
    assert preds[1]['sem_seg'].shape == (50, 30)
    assert preds[0]['shot_sem_seg'].shape == (2, 40, 60)
    direct = inference_episode(inferencer.model, files['q1'], supports, masks)
    np.testing.assert_array_equal(preds[1]['sem_seg'],
                                  direct.pred_sem_seg.data[0].numpy())
    assert listing(tmp_path) == [
        'pred/q0.png', 'pred/q1.png', 'vis/q0.png', 'vis/q1.png'
    ]
    mask = np.asarray(Image.open(tmp_path / 'pred' / 'q1.png'))
    assert mask.shape == (50, 30) and set(np.unique(mask)) <= {0, 255}
    np.testing.assert_array_equal(mask // 255, preds[1]['sem_seg'])
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / 'vis' / 'q0.png')), vis[0])


def test_single_query_arrays_and_datasamples(inferencer, files, tmp_path):
    query = image(40, 60, 0)
    out = inferencer(query, files['s0'], files['m0'])
    assert out['predictions']['sem_seg'].shape == (40, 60)
    assert out['visualization'] == []
    out = inferencer([query, query],
                     files['s0'],
                     files['m0'],
                     return_datasamples=True,
                     out_dir=str(tmp_path))
    assert out['predictions'][0].pred_sem_seg.data.shape == (1, 40, 60)
    # arrays are numbered, like MMSegInferencer
    assert listing(tmp_path) == [
        'pred/00000000.png', 'pred/00000001.png', 'vis/00000000.png',
        'vis/00000001.png'
    ]


def test_bad_input_writes_nothing(inferencer, files, tmp_path):
    out_dir = tmp_path / 'out'
    empty = tmp_path / 'empty.png'
    Image.fromarray(np.zeros((44, 44), np.uint8)).save(empty)
    with pytest.raises(ValueError, match='shot 1.*empty.png.*no foreground'):
        inferencer([files['q0'], files['q1']], [files['s0'], files['s0']],
                   [files['m0'], str(empty)],
                   out_dir=str(out_dir))
    with pytest.raises(FileNotFoundError, match=r'queries\[1\].*nope.png'):
        inferencer([files['q0'], str(tmp_path / 'nope.png')],
                   files['s0'],
                   files['m0'],
                   out_dir=str(out_dir))
    assert not out_dir.exists()
    blocker = tmp_path / 'a_file'
    blocker.write_text('x')
    with pytest.raises(OSError, match='a_file is a file, not a folder'):
        inferencer(
            files['q0'],
            files['s0'],
            files['m0'],
            out_dir=str(blocker / 'sub'))
    with pytest.raises(ValueError, match='opacity'):
        inferencer(files['q0'], files['s0'], files['m0'], opacity=2)


def test_refuses_other_checkpoints(files, tmp_path):
    other = tmp_path / 'other.pth'
    torch.save(
        dict(state_dict={'backbone.conv1.weight': torch.zeros(1)}), other)
    with pytest.raises(CheckpointMismatchError, match='other.pth'):
        FewShotInferencer(files['cfg'], weights=str(other), device='cpu')
    junk = tmp_path / 'junk.pth'
    junk.write_text('not a checkpoint')
    with pytest.raises(ValueError, match='junk.pth'):
        FewShotInferencer(files['cfg'], weights=str(junk), device='cpu')


def test_stream_writes_each_query_when_asked(inferencer, files, tmp_path):
    results = inferencer.stream([files['q0'], files['q1']],
                                files['s0'],
                                files['m0'],
                                out_dir=str(tmp_path),
                                return_vis=True)
    sample, picture = next(results)  # checked now, run one query at a time
    assert sample.pred_sem_seg.data.shape == (1, 40, 60)
    assert listing(tmp_path) == ['pred/q0.png', 'vis/q0.png']
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / 'vis' / 'q0.png')), picture)
    sample, _ = next(results)
    assert sample.pred_sem_seg.data.shape == (1, 50, 30)
    assert len(listing(tmp_path)) == 4
    with pytest.raises(StopIteration):
        next(results)


INFERENCER_SCRIPT = '''
from hsnet_mm.apis import FewShotInferencer, init_model

model = init_model(sys.argv[2], sys.argv[3])
base = peak_kib()
support = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
mask = np.zeros((48, 64), np.uint8)
mask[10:30, 20:40] = 1
out = FewShotInferencer(model)(sys.argv[1], support, mask,
                               out_dir=sys.argv[4], return_vis=True)
assert out['predictions']['sem_seg'].shape == (12000, 12000)
assert out['visualization'].shape[0] < 2100  # panels of <= 2048 rows
print(base, peak_kib())
'''


@pytest.mark.slow
def test_a_12000_x_12000_query_peaks_under_2_gb(tmp_path):
    """Decoded, predicted, drawn (bounded) and written in under 2 GiB."""
    from tests.apis.episode_helpers import (measure_peak, tiny_files,
                                            write_large_png)
    config, checkpoint = tiny_files(tmp_path)
    huge = write_large_png(tmp_path / 'huge.png', 12000, 12000)
    base, peak = measure_peak(INFERENCER_SCRIPT, huge, config, checkpoint,
                              str(tmp_path / 'out'))
    assert peak < 2 * 2**20, (base, peak)
    with Image.open(tmp_path / 'out' / 'pred' / 'huge.png') as mask:
        assert mask.size == (12000, 12000) and mask.mode == 'L'
