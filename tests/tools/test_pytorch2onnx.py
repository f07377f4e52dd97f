# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/deployment/pytorch2onnx.py: export a checkpoint, then run the
export through the image demo with each runtime."""
import numpy as np
from PIL import Image

from tests.apis.episode_helpers import box_mask, image


def test_export_and_demo(tmp_path, run_tool, ok, tiny_config,
                         calibrated_checkpoint):
    config = tiny_config
    out = tmp_path / 'export'
    stdout = ok(
        run_tool([
            'tools/deployment/pytorch2onnx.py',
            str(config),
            str(calibrated_checkpoint), '--out',
            str(out), '--img-size', '64'
        ]))
    assert 'exported' in stdout and 'encoder.onnx' in stdout
    again = run_tool([
        'tools/deployment/pytorch2onnx.py',
        str(config),
        str(calibrated_checkpoint), '--out',
        str(out), '--img-size', '64'
    ])
    assert again.returncode == 2
    assert again.stderr.strip().splitlines()[-1].endswith(
        'exists: choose another --out or pass --overwrite')
    bad = run_tool([
        'tools/deployment/pytorch2onnx.py',
        str(config),
        str(calibrated_checkpoint), '--out',
        str(tmp_path / 'x'), '--img-size', '1', '2', '3'
    ])
    assert bad.returncode == 2 and '--img-size takes S or H W' in bad.stderr

    Image.fromarray(image(50, 70, 1)).save(tmp_path / 'q.png')
    Image.fromarray(image(64, 64, 3)).save(tmp_path / 's.png')
    Image.fromarray(box_mask(64, 64)).save(tmp_path / 'm.png')
    masks = {}
    for backend, weights in (('pytorch', calibrated_checkpoint),
                             ('onnxruntime', out), ('openvino', out)):
        out_dir = tmp_path / f'demo_{backend}'
        ok(
            run_tool([
                'demo/image_demo.py',
                str(tmp_path / 'q.png'),
                str(config),
                str(weights), '--support',
                str(tmp_path / 's.png'),
                str(tmp_path / 'm.png'), '--out-dir',
                str(out_dir), '--backend', backend
            ]))
        masks[backend] = np.asarray(Image.open(out_dir / 'pred' / 'q.png'))
    for backend in ('onnxruntime', 'openvino'):
        same = (masks[backend] == masks['pytorch']).mean()
        assert same >= 0.999, (backend, same)
