# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import json

import cv2
import mmcv
import mmengine
import mmseg
import numpy as np
import PIL
import torch
from PIL import features

import hsnet_mm
from hsnet_mm.utils import collect_env, format_environment, result_environment


def test_collect_env_versions():
    env = collect_env()
    assert env['MMCV'] == mmcv.__version__
    assert env['MMEngine'] == mmengine.__version__
    assert env['MMSegmentation'] == mmseg.__version__
    assert env['hsnet_mm'].startswith(hsnet_mm.__version__)
    assert 'PyTorch' in env and 'NumPy' in env
    assert 'MMCV CUDA Compiler' in env or 'MMCV ops' in env


def test_result_environment():
    env = result_environment()
    assert json.loads(json.dumps(env)) == env  # JSON-ready
    assert env['torch'] == torch.__version__
    assert env['mmcv'] == mmcv.__version__
    assert env['mmengine'] == mmengine.__version__
    assert env['mmseg'] == mmseg.__version__
    assert env['numpy'] == np.__version__
    assert env['opencv'] == cv2.__version__
    assert env['Pillow'] == PIL.__version__
    assert env['jpeg'].startswith('libjpeg')
    assert features.version('jpg') in env['jpeg']  # e.g. libjpeg-turbo's
    assert env['hsnet_mm'].startswith(hsnet_mm.__version__)
    assert env['cpu']
    if torch.cuda.is_available():
        assert env['cuda_device'] == torch.cuda.get_device_name()
    else:
        assert env['cuda_device'] is None
    line = format_environment(env)
    assert f'Pillow {PIL.__version__}' in line and 'None' not in line
