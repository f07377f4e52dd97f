# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Load and run the converter scripts of ``tools/dataset_converters``."""
import importlib.util
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[3] / 'tools'


def load_tool(relative: str):
    """Import ``tools/<relative>`` as a module."""
    path = TOOLS / relative
    name = 'tool_' + relative.replace('/', '_')[:-3]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # worker processes pickle its functions
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def run_tool(monkeypatch):
    """Run ``main()`` of a tool with the given command-line arguments."""

    def run(relative, *args):
        module = load_tool(relative)
        monkeypatch.setattr(sys, 'argv', [relative, *map(str, args)])
        module.main()
        return module

    return run


def tree_bytes(root: Path) -> dict:
    """{relative path: content} of every file under ``root``."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob('*')) if p.is_file()
    }


@pytest.fixture
def snapshot():
    """The :func:`tree_bytes` helper."""
    return tree_bytes
