# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The package reads as the data flow: no module imports a later layer."""
import ast
from pathlib import Path

from tests.helpers import REPO_ROOT

#: Subpackages from the bottom up; a module may import its own layer and the
#: layers before it, never a later one.
LAYERS = ('structures', 'utils', 'datasets', 'models', 'evaluation',
          'visualization', 'engine', 'deploy', 'apis')


def imported_subpackages(path: Path):
    """The ``hsnet_mm`` subpackages that the module at ``path`` imports."""
    package = path.relative_to(REPO_ROOT).with_suffix('').parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                parts = base + tuple((node.module or '').split('.'))
            else:
                parts = tuple((node.module or '').split('.'))
            names = [parts + (a.name, ) for a in node.names]
        elif isinstance(node, ast.Import):
            names = [tuple(a.name.split('.')) for a in node.names]
        else:
            continue
        for name in names:
            name = tuple(p for p in name if p)
            if len(name) > 1 and name[0] == 'hsnet_mm':
                yield node.lineno, name[1]


def test_no_module_imports_a_later_layer():
    upward = []
    for path in sorted((REPO_ROOT / 'hsnet_mm').rglob('*.py')):
        parts = path.relative_to(REPO_ROOT / 'hsnet_mm').parts
        if len(parts) < 2 or parts[0] not in LAYERS:
            continue
        own = LAYERS.index(parts[0])
        for lineno, sub in imported_subpackages(path):
            if sub in LAYERS and LAYERS.index(sub) > own:
                upward.append(f'{path.relative_to(REPO_ROOT)}:{lineno} '
                              f'imports hsnet_mm.{sub}')
    assert not upward, '\n'.join(upward)


def test_layering_check_sees_relative_imports():
    module = REPO_ROOT / 'hsnet_mm' / 'models' / 'segmentors' / 'hsnet.py'
    found = {sub for _, sub in imported_subpackages(module)}
    assert 'structures' in found  # from ...structures import ...
    assert 'models' in found  # from ..layers: hsnet_mm.models itself
