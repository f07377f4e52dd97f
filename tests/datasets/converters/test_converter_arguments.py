# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Every folder argument of the dataset converters is checked before any
work, through the tools' error boundary: one line on stderr, exit 2, and
nothing written."""
import importlib.util
from pathlib import Path

import pytest

from hsnet_mm.datasets.convert_utils import CorruptFileError
from hsnet_mm.utils import call_cli
from tests.read_only import read_only_folder

TOOLS = Path(__file__).resolve().parents[3] / 'tools' / 'dataset_converters'


def _convert(name, args, capsys):
    """Run ``tools/dataset_converters/<name>.py args`` in the boundary its
    ``run_cli`` uses; return its one error line (asserting exit code 2)."""
    spec = importlib.util.spec_from_file_location(f'convert_{name}',
                                                  TOOLS / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = call_cli(
        module.main, [str(a) for a in args],
        user_errors=(CorruptFileError, ),
        prog=f'{name}.py')
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and len(lines) == 1, (code, lines)
    assert lines[0].startswith(f'{name}.py: error: ')
    return lines[0]


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob('*'))


@pytest.fixture
def sources(tmp_path):
    """Minimal source trees (only their folders matter here), a file, and
    links to the source folders."""
    (tmp_path / 'fss' / 'bee').mkdir(parents=True)
    (tmp_path / 'VOC2012' / 'SegmentationClass').mkdir(parents=True)
    (tmp_path / 'coco' / 'annotations').mkdir(parents=True)
    (tmp_path / 'coco' / 'annotations' /
     'instances_train2014.json').write_text('{}')
    (tmp_path / 'a_file').write_text('')
    (tmp_path / 'fss_link').symlink_to(tmp_path / 'fss')
    (tmp_path / 'voc_masks_link').symlink_to(tmp_path / 'VOC2012' /
                                             'SegmentationClass')
    return tmp_path


@pytest.mark.parametrize('name, args, fragments', [
    ('fss1000', ['a_file', '-o', 'out'], ['a_file is not a folder (SRC)']),
    ('fss1000', ['nowhere', '-o', 'out'], ['nowhere is not a folder']),
    ('fss1000', ['fss', '-o', 'fss_link'], ['must differ from SRC']),
    ('fss1000', ['fss', '-o', 'fss/out'], ['must not lie inside SRC']),
    ('fss1000', ['fss', '-o', 'a_file'], ['a_file is a file, not a folder']),
    ('fss1000', ['fss', '-o', 'a_file/out'], ['a_file is a file']),
    ('fss1000', ['fss', '-o', 'out', '--split-dir', 'no_splits'
                 ], ['--split-dir: ', 'no_splits/trn.txt', 'not found']),
    ('fss1000', ['fss', '-o', 'out', '--nproc', '0'], ['must be >= 1']),
    ('pascal5i', ['VOC2012', '-o', 'voc_masks_link'
                  ], ['must differ from VOC_ROOT and the source folders']),
    ('pascal5i', ['VOC2012', '-o', 'VOC2012'], ['must differ from VOC_ROOT']),
    ('pascal5i', ['VOC2012', '-o', 'a_file'], ['a_file is a file']),
    ('pascal5i', ['VOC2012', '--sbd-root', 'nowhere'], ['cls is missing']),
    ('coco20i', ['coco', '-o', 'coco'], ['must differ from COCO_ROOT']),
    ('coco20i', ['coco', '--split-dir', 'a_file'], ['a_file is a file']),
    ('coco20i', ['coco'], ['instances_val2014.json is missing']),
])
def test_argument_errors_before_any_work(sources, monkeypatch, capsys, name,
                                         args, fragments):
    if name == 'coco20i':
        pytest.importorskip('pycocotools')
    monkeypatch.chdir(sources)
    before = _tree(sources)
    line = _convert(name, args, capsys)
    assert all(f in line for f in fragments), line
    assert _tree(sources) == before  # nothing written, not even a folder


def test_read_only_out_dir(sources, monkeypatch, capsys):
    monkeypatch.chdir(sources)
    with read_only_folder(sources / 'ro') as read_only:
        for name, src in (('fss1000', 'fss'), ('pascal5i', 'VOC2012')):
            line = _convert(name, [src, '-o', read_only / 'out'], capsys)
            assert f'output {read_only}/out cannot be written' in line
