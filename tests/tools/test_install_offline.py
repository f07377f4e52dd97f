# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/offline/install.sh: its argument and target checks, and what it
would run (--dry-run). `make offline-check` installs for real."""
import sys
from pathlib import Path

import pytest

INSTALL = 'tools/offline/install.sh'


def fake_wheelhouse(folder: Path,
                    mode: str = 'partial',
                    python: str = '%d.%d' % sys.version_info[:2]) -> Path:
    """The files install.sh looks at (empty packages: nothing installs)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / 'MANIFEST').write_text(
        '# hsnet-mm offline wheelhouse\nhsnet-mm: 0.1.0\n'
        f'mode: {mode}\npython: {python}\nplatform: manylinux2014_x86_64\n')
    (folder / 'mmcv-2.1.0.tar.gz').write_bytes(b'')
    (folder / 'install-requirements.txt').write_text('hsnet_mm==0.1.0\n')
    (folder / 'build-requirements.txt').write_text('setuptools<81\n')
    return folder


def error(proc) -> str:
    """Assert exit code 2 and one ``install.sh: error:`` line; return it."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, (proc.returncode,
                                                      proc.stderr)
    assert lines[0].startswith('install.sh: error: ')
    return lines[0]


def install(run_tool, *args, env=None):
    return run_tool(['bash', INSTALL, *map(str, args)],
                    env=dict(env or {}, PYTHON=sys.executable))


def test_help(run_tool):
    proc = install(run_tool, '--help')
    assert proc.returncode == 0
    assert 'bash tools/offline/install.sh WHEELHOUSE [--venv DIR]' in \
        proc.stdout


@pytest.mark.parametrize('args, message', [
    ([], 'no WHEELHOUSE given'),
    (['--bogus'], 'unknown option --bogus'),
    (['{wh}', '--venv'], '--venv needs a value'),
    (['{wh}', '{wh}'], 'one WHEELHOUSE only'),
    (['{tmp}/nowhere'], 'no such folder'),
    (['{tmp}'], 'has no MANIFEST'),
    (['{wh}', '--jobs', 'x'], '--jobs x: expected a positive number'),
    (['{wh}', '--python', '{tmp}/no-python'], 'not found'),
])
def test_bad_arguments(run_tool, tmp_path, args, message):
    wh = fake_wheelhouse(tmp_path / 'wh')
    args = [a.format(wh=wh, tmp=tmp_path) for a in args]
    assert message in error(install(run_tool, *args))


def test_a_wheelhouse_for_another_python_is_refused(run_tool, tmp_path):
    wh = fake_wheelhouse(tmp_path / 'wh', python='3.99')
    line = error(install(run_tool, wh, '--dry-run'))
    assert 'the wheelhouse is for Python 3.99' in line
    assert f'--python-version {sys.version_info[0]}.' in line


def test_an_incomplete_wheelhouse_is_refused(run_tool, tmp_path):
    wh = fake_wheelhouse(tmp_path / 'wh')
    (wh / 'mmcv-2.1.0.tar.gz').unlink()
    assert 'lacks mmcv-2.1.0.tar.gz' in error(install(run_tool, wh))
    wh = fake_wheelhouse(tmp_path / 'wh2', mode='weird')
    assert 'names no mode' in error(install(run_tool, wh))


def test_a_python_without_torch_is_refused(run_tool, tmp_path):
    fake = tmp_path / 'python'  # the version is right, torch is absent
    fake.write_text(f'#!/bin/sh\nexec {sys.executable} -S -I "$@"\n')
    fake.chmod(0o755)
    wh = fake_wheelhouse(tmp_path / 'wh')
    line = error(install(run_tool, wh, '--python', fake, '--dry-run'))
    assert 'PyTorch is not importable' in line


def commands(stdout: str) -> list:
    return [line[2:] for line in stdout.splitlines() if line.startswith('+ ')]


def test_dry_run_of_a_partial_install(run_tool, ok, tmp_path):
    wh = fake_wheelhouse(tmp_path / 'wh')
    (wh / 'weights').mkdir()
    (wh / 'weights' / 'resnet50-0676ba61.pth').write_bytes(b'x')
    out = ok(
        install(
            run_tool,
            wh,
            '--dry-run',
            '--jobs',
            '3',
            env=dict(TORCH_HOME=str(tmp_path / 'th'))))
    cmds = commands(out)
    tools, packages, mmcv, check = cmds[:4]
    for cmd in (tools, packages, mmcv):
        assert f'-m pip install --no-index --find-links {wh} ' in cmd
    assert '--no-deps --target' in tools
    assert f'-q --no-deps -r {wh}/install-requirements.txt' in packages
    # mmcv: CPU ops only, every core given, its build tools, no cache
    assert mmcv.startswith('env CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 '
                           'MMCV_WITH_OPS=1 MAX_JOBS=3 PYTHONPATH=')
    assert mmcv.endswith('--no-deps --no-build-isolation --no-cache-dir '
                         f'--force-reinstall {wh}/mmcv-2.1.0.tar.gz')
    assert check.endswith("-c import hsnet_mm, mmseg, mmcv.ops")
    assert cmds[-1].startswith(f'cp {wh}/weights/resnet50-0676ba61.pth ')
    assert not (tmp_path / 'th').exists()  # a dry run changes nothing


def test_dry_run_of_a_full_install_into_a_new_venv(run_tool, ok, tmp_path):
    wh = fake_wheelhouse(tmp_path / 'wh', mode='full')
    venv = tmp_path / 'venv'
    out = ok(install(run_tool, wh, '--venv', venv, '--dry-run'))
    cmds = commands(out)
    assert cmds[0] == f'{sys.executable} -m venv --system-site-packages ' \
        f'{venv}'
    assert cmds[2].endswith(f'--find-links {wh} -q -r '
                            f'{wh}/install-requirements.txt')  # with deps
    assert not venv.exists()
