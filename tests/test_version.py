# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""hsnet_mm/version.py: one version string, read alike by everyone."""
import re
from importlib import metadata

import pytest

import hsnet_mm
from hsnet_mm.version import __version__, parse_version_info, version_info
from tests.helpers import REPO_ROOT


@pytest.mark.parametrize('text,expected', [
    ('0.1.0', (0, 1, 0)),
    ('1.12.3', (1, 12, 3)),
    ('2.0.0rc1', (2, 0, '0rc1')),
    ('1.0.dev3', (1, 0, 'dev3')),
])
def test_parse_version_info(text, expected):
    assert parse_version_info(text) == expected


def test_numeric_parts_compare_as_numbers():
    assert parse_version_info('0.10.0') > parse_version_info('0.9.9')


def test_version_info_is_the_parsed_version():
    assert version_info == parse_version_info(__version__)
    assert hsnet_mm.__version__ == __version__
    assert re.fullmatch(r'\d+\.\d+\.\d+(\w+)?', __version__)


def test_setup_and_installed_metadata_agree():
    """setup.py reads version.py as text; the installed distribution (the
    editable install of ``make venv``) carries the same version."""
    text = (REPO_ROOT / 'hsnet_mm' / 'version.py').read_text()
    assert f"__version__ = '{__version__}'" in text.splitlines()
    try:
        installed = metadata.version('hsnet_mm')
    except metadata.PackageNotFoundError:
        pytest.skip('hsnet_mm is not installed (pip install -e .)')
    assert installed == __version__
