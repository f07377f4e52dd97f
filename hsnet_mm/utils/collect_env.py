# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Report the environment: Python, PyTorch, CUDA, OpenMMLab and hsnet-mm."""
import os.path as osp
import subprocess
from collections import OrderedDict
from typing import Dict

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


if __name__ == '__main__':
    for name, val in collect_env().items():
        print(f'{name}: {val}')
