# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Import a script of ``demo/`` (not a package) as a module."""
import importlib.util
import sys
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[2] / 'demo'


def load_demo(name: str):
    """The module ``demo/<name>.py``."""
    if str(DEMO_DIR) not in sys.path:
        sys.path.insert(0, str(DEMO_DIR))  # the demos import each other
    spec = importlib.util.spec_from_file_location(f'demo_{name}',
                                                  DEMO_DIR / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
