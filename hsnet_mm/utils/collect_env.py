# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Report the environment: Python, PyTorch, CUDA, OpenMMLab and hsnet-mm.

:func:`collect_env` is the long report (``python -m
hsnet_mm.utils.collect_env``); :func:`result_environment` the short one
every results file (``--out``) and test log carries: the versions and the
device that decide the numbers.
"""
import os.path as osp
import platform
import subprocess
from collections import OrderedDict
from typing import Dict, Mapping, Optional

from mmengine.utils.dl_utils import collect_env as collect_base_env


def _git_hash(digits: int = 7) -> str:
    """Short commit hash of the hsnet-mm checkout, '' outside a checkout."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    try:
        out = subprocess.run(['git', '-C', root, 'rev-parse', 'HEAD'],
                             capture_output=True,
                             text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ''
    return out.stdout.strip()[:digits] if out.returncode == 0 else ''


def collect_env() -> Dict[str, str]:
    """Collect the versions that matter to reproduce a result.

    mmengine's report (platform, Python, CUDA, GCC, PyTorch, OpenCV, ...)
    plus MMEngine, MMCV (with its compiler and CUDA of ``mmcv.ops``),
    MMSegmentation, NumPy and hsnet-mm.

    Returns:
        OrderedDict[str, str]: Name to version or description.
    """
    import mmcv
    import mmengine
    import mmseg
    import numpy as np

    import hsnet_mm.version

    env_info = OrderedDict(collect_base_env())
    env_info['NumPy'] = np.__version__
    env_info['MMEngine'] = mmengine.__version__
    env_info['MMCV'] = mmcv.__version__
    try:
        from mmcv.ops import get_compiler_version, get_compiling_cuda_version
    except ImportError:  # mmcv-lite: no compiled ops
        env_info['MMCV ops'] = 'not available (mmcv-lite?)'
    else:
        env_info['MMCV Compiler'] = get_compiler_version()
        env_info['MMCV CUDA Compiler'] = get_compiling_cuda_version()
    env_info['MMSegmentation'] = mmseg.__version__
    version = hsnet_mm.version.__version__
    git_hash = _git_hash()
    env_info['hsnet_mm'] = f'{version}+{git_hash}' if git_hash else version
    return env_info


def _jpeg_library() -> str:
    """Pillow's JPEG library, e.g. ``'libjpeg-turbo 3.1.0 (libjpeg API
    6.2)'`` or ``'libjpeg 9e'`` (decoded JPEG pixels differ between
    them)."""
    from PIL import features
    try:
        turbo = features.check_feature('libjpeg_turbo')
    except ValueError:  # a Pillow without the feature flag
        turbo = None
    version = features.version('jpg')
    if version is None:
        return 'not available'
    if turbo:
        turbo_version = features.version_feature('libjpeg_turbo')
        return f'libjpeg-turbo {turbo_version or "?"} (libjpeg API {version})'
    return f'libjpeg {version}'


def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux)."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or 'unknown'


def result_environment() -> Dict[str, Optional[str]]:
    """The versions and the device that decide a result's numbers.

    Recorded in every results file (``tools/test.py --out``, the analysis
    tools' ``--out``) and in the log of every Runner built by the tools, so
    that numbers that differ can be traced to their environment: PyTorch,
    MMCV, MMEngine, MMSegmentation, NumPy, OpenCV, Pillow and its JPEG
    library (decoding differs between libjpeg and libjpeg-turbo), hsnet-mm,
    the CPU and the CUDA device (None without CUDA).

    Returns:
        dict[str, str | None]: Name to version or description, JSON-ready.
    """
    import cv2
    import mmcv
    import mmengine
    import mmseg
    import numpy as np
    import PIL
    import torch

    import hsnet_mm.version

    env: Dict[str, Optional[str]] = OrderedDict()
    env['torch'] = torch.__version__
    env['mmcv'] = mmcv.__version__
    env['mmengine'] = mmengine.__version__
    env['mmseg'] = mmseg.__version__
    env['numpy'] = np.__version__
    env['opencv'] = cv2.__version__
    env['Pillow'] = PIL.__version__
    env['jpeg'] = _jpeg_library()
    version = hsnet_mm.version.__version__
    git_hash = _git_hash()
    env['hsnet_mm'] = f'{version}+{git_hash}' if git_hash else version
    env['cpu'] = _cpu_model()
    env['cuda_device'] = None
    if torch.cuda.is_available():
        env['cuda_device'] = torch.cuda.get_device_name()
        env['cuda'] = torch.version.cuda
        env['cudnn'] = str(torch.backends.cudnn.version())
    return env


def format_environment(env: Mapping[str, Optional[str]]) -> str:
    """One line of :func:`result_environment`, ``name version, ...``."""
    return ', '.join(f'{k} {v}' for k, v in env.items() if v is not None)


if __name__ == '__main__':
    for name, val in collect_env().items():
        print(f'{name}: {val}')
