# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Run the code of the README and the docs, so that it cannot rot.

Conventions of the Markdown files:

- every ```` ```python ```` block runs, in file order, in one namespace per
  file, unless an HTML comment ``<!-- test: skip (reason) -->`` stands
  right above it; a block whose first line is ``# file: PATH`` is written
  to PATH instead (a config a later block uses);
- a ```` ```shell ```` block runs (bash, ``set -e``) only when
  ``<!-- test: run -->`` stands right above it; the others are
  documentation only (installs, GPU clusters, real datasets).

Everything runs in a sandbox folder holding a copy of ``configs/`` and
``demo/``, ``tools/``, ``.venv`` and a random-weight
``work_dirs/demo/best_mIoU_epoch_6.pth`` of the demo config in place of
``make demo``'s.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.helpers import REPO_ROOT

#: docs/reuse.md registers components in its examples and has its own runner
#: (tests/docs/test_reuse_md.py), which runs each of them once.
DOCS = ['README.md', 'demo/README.md'] + sorted(
    str(p.relative_to(REPO_ROOT))
    for p in (REPO_ROOT / 'docs').glob('*.md') if p.name != 'reuse.md')
BLOCK = re.compile(
    r'(?:<!--\s*test:\s*(?P<mark>[^>]*?)\s*-->\s*\n)?'
    r'^```(?P<lang>[a-z]*)\n(?P<code>.*?)^```', re.S | re.M)


def blocks(doc: str):
    """(lang, mark, code, line) of every fenced block of ``doc``."""
    text = (REPO_ROOT / doc).read_text()
    for m in BLOCK.finditer(text):
        line = text.count('\n', 0, m.start('code')) + 1
        yield m['lang'], (m['mark'] or ''), m['code'], line


def test_markers_are_known():
    for doc in DOCS:
        for lang, mark, _, line in blocks(doc):
            where = f'{doc}:{line}'
            if lang == 'python':
                assert mark == '' or re.fullmatch(r'skip \(.+\)', mark), where
            elif mark:
                assert lang == 'shell' and mark == 'run', where


@pytest.fixture(scope='module')
def sandbox(tmp_path_factory):
    root = tmp_path_factory.mktemp('docs')
    shutil.copytree(REPO_ROOT / 'configs', root / 'configs')
    (root / 'demo').mkdir()
    for script in (REPO_ROOT / 'demo').glob('*.py'):
        shutil.copy(script, root / 'demo')
    os.symlink(REPO_ROOT / 'tools', root / 'tools')
    os.symlink(sys.prefix, root / '.venv')
    from hsnet_mm.apis import init_model
    torch.manual_seed(0)
    model = init_model(
        str(REPO_ROOT / 'configs/hsnet/hsnet_r18_synthetic_1shot.py'))
    (root / 'work_dirs' / 'demo').mkdir(parents=True)
    torch.save(
        dict(state_dict=model.state_dict(), meta={}),
        root / 'work_dirs' / 'demo' / 'best_mIoU_epoch_6.pth')
    subprocess.run([
        sys.executable,
        str(root / 'demo' / 'make_examples.py'),
        str(root / 'demo' / 'examples')
    ],
                   check=True,
                   env=_env(root))
    return root


def _env(root: Path) -> dict:
    return dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT)] + [
            p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p
        ]),
        PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ['PATH'],
        OMP_NUM_THREADS='1')


@pytest.mark.slow
@pytest.mark.parametrize('doc', DOCS)
def test_doc_code_runs(doc, sandbox, monkeypatch):
    monkeypatch.chdir(sandbox)
    namespace = {'__name__': f'doc_{Path(doc).stem}'}
    ran = 0
    for lang, mark, code, line in blocks(doc):
        where = f'{doc}:{line}'
        if lang == 'python' and not mark.startswith('skip'):
            first = code.split('\n', 1)[0]
            if first.startswith('# file: '):
                path = sandbox / first[len('# file: '):].strip()
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(code)
                continue
            exec(compile(code, where, 'exec'), namespace)
            ran += 1
        elif lang == 'shell' and mark == 'run':
            proc = subprocess.run(['bash', '-ec', code],
                                  cwd=sandbox,
                                  env=_env(sandbox),
                                  capture_output=True,
                                  text=True,
                                  timeout=600)
            assert proc.returncode == 0, (where, proc.stdout[-2000:],
                                          proc.stderr[-3000:])
            ran += 1
    if doc not in ('docs/dataset_prepare.md', 'docs/official_pitfalls.md'):
        assert ran, f'{doc} has no code that runs'
