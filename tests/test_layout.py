# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""The tests mirror the package: hsnet_mm/a/b.py -> tests/a/test_b.py."""
from tests.helpers import REPO_ROOT


def test_every_module_has_a_test_at_its_mirrored_path():
    package = REPO_ROOT / 'hsnet_mm'
    missing = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted(package.rglob('*.py')) if path.name != '__init__.py'
        and not (REPO_ROOT / 'tests' / path.parent.relative_to(package) /
                 f'test_{path.name}').exists()
    ]
    assert not missing, ('modules without tests/<same path>/test_<module>.py'
                         f': {missing}')
