# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""hsnet-mm: HSNet few-shot segmentation as mmsegmentation components.

``import hsnet_mm`` registers every component into mmseg's registries
(``MODELS``, ``DATASETS``, ``TRANSFORMS``, ``METRICS``); configs load it with
``custom_imports=dict(imports=['hsnet_mm'])``. It never imports torchvision.
"""
import mmseg  # noqa: F401  (mmseg checks the mmcv / mmengine versions)

# Imported for their side effect: registering the components.
from . import datasets, engine, evaluation, models, structures  # noqa: F401
from .version import __version__, version_info

__all__ = ['__version__', 'version_info']
