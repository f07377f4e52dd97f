# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
import mmcv
import mmengine
import mmseg

import hsnet_mm
from hsnet_mm.utils import collect_env


def test_collect_env_versions():
    env = collect_env()
    assert env['MMCV'] == mmcv.__version__
    assert env['MMEngine'] == mmengine.__version__
    assert env['MMSegmentation'] == mmseg.__version__
    assert env['hsnet_mm'].startswith(hsnet_mm.__version__)
    assert 'PyTorch' in env and 'NumPy' in env
    assert 'MMCV CUDA Compiler' in env or 'MMCV ops' in env
