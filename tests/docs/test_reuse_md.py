# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Every ```python block of docs/reuse.md runs, each on its own."""
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / 'docs' / 'reuse.md'
BLOCKS = re.findall(r'^```python\n(.*?)^```$', DOC.read_text(), re.S | re.M)


def test_the_guide_has_its_examples():
    assert len(BLOCKS) == 7


@pytest.mark.parametrize('index', range(len(BLOCKS)))
def test_example_runs(index, monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # the examples name configs/...
    code = compile(BLOCKS[index], f'{DOC}:block{index}', 'exec')
    exec(code, {'__name__': f'reuse_md_block{index}'})
