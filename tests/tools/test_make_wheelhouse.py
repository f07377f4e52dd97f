# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""tools/offline/make_wheelhouse.py without the network: its plan, the
partial list against the packages' metadata, the closure check on fake
wheels, MANIFEST. (`make offline-check` downloads for real.)"""
import importlib.util
import io
import re
import tarfile
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / 'tools' / 'offline' / 'make_wheelhouse.py'
PARTIAL = REPO_ROOT / 'requirements' / 'offline_partial.txt'


@pytest.fixture(scope='module')
def mw():
    spec = importlib.util.spec_from_file_location('make_wheelhouse', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_of_a_partial_wheelhouse_for_python_3_12(run_tool, ok, tmp_path):
    dest = tmp_path / 'wh'
    out = ok(
        run_tool([
            str(TOOL), '--python-version', '3.12', '--partial', '--plan',
            '--dest',
            str(dest)
        ]))
    assert not dest.exists()  # a plan downloads nothing
    assert f'partial wheelhouse for CPython 3.12 on manylinux2014_x86_64 ' \
           f'into {dest}' in out
    steps = re.findall(r'^\d\. (.*):\n   (.*)$', out, re.M)
    assert len(steps) == 4
    sdist, tools, packages, own = (cmd.split() for _, cmd in steps)
    # mmcv as its source, for this machine's pip to fetch
    assert sdist[-1] == 'mmcv==2.1.0' and ':all:' in sdist
    assert sdist[sdist.index('--no-binary') + 1] == ':all:'
    assert '--python-version' not in sdist
    for cmd in (tools, packages):
        assert cmd[cmd.index('--python-version') + 1] == '3.12'
        assert cmd[cmd.index('--platform') + 1] == 'manylinux2014_x86_64'
        assert '--only-binary=:all:' in cmd and '--no-deps' in cmd
    assert "'setuptools>=77,<81'" in steps[1][1]
    names = packages[packages.index(str(dest)) + 1:]
    assert names[:2] == ['mmengine==0.10.7', 'mmsegmentation==1.2.2']
    assert {'addict', 'rich', 'yapf', 'ftfy', 'regex', 'tqdm'} <= set(names)
    assert not {'torch', 'numpy', 'scipy', 'tomli'} & set(names)
    assert own[:3] == [own[0], '-m', 'pip'] and 'wheel' in own
    assert 'hsnet-mm 0.1.0' in steps[3][0]


def test_plan_of_a_full_wheelhouse_resolves_dependencies(run_tool, ok):
    out = ok(
        run_tool([
            str(TOOL), '--python-version', '3.10', '--platform',
            'manylinux2014_x86_64,manylinux_2_28_x86_64', '--plan'
        ]))
    packages = re.findall(r'^3\. .*:\n   (.*)$', out, re.M)[0].split()
    assert '--no-deps' not in packages
    assert packages.count('--platform') == 2
    assert 'mmengine==0.10.7' in packages and 'torch' not in packages
    assert 'wheelhouse/py3.10 ' in out  # the default folder
    assert "never carried (the target's): torch" in out


def test_partial_marker_is_evaluated_for_the_target(mw):
    env = mw.target_environment('3.10', ['manylinux2014_x86_64'])
    assert 'tomli' in mw.for_target(mw.read_requirements(PARTIAL), env)
    env = mw.target_environment('3.12', ['manylinux2014_x86_64'])
    assert 'tomli' not in mw.for_target(mw.read_requirements(PARTIAL), env)
    assert env['platform_machine'] == 'x86_64'


@pytest.mark.parametrize('args, message', [
    (['--python-version', '3.x'], 'expected MAJOR.MINOR'),
    (['--platform', ' , '], 'no platform tag'),
])
def test_bad_arguments(run_tool, args, message):
    proc = run_tool([str(TOOL), '--plan', *args])
    assert proc.returncode == 2 and message in proc.stderr


def installed_requirements(name):
    """The names that the installed ``name`` requires here."""
    for line in metadata.requires(name) or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({'extra': ''}):
            yield req.name


def test_the_partial_list_closes_over_the_installed_metadata(mw):
    """What hsnet-mm, mmcv, mmengine and mmsegmentation need, down to the
    last dependency, is carried or assumed present."""
    norm = mw.normalize
    carried = {mw.requirement_name(r) for r in mw.read_requirements(PARTIAL)}
    assumed = set(mw.read_assumed(PARTIAL))
    assert {'torch', 'numpy', 'scipy', 'matplotlib'} <= assumed
    # the tests pin yapf 0.40.1, whose importlib-metadata (and what that
    # needs) the newest yapf, which the wheelhouse carries, no longer needs
    allowed = {'importlib-metadata', 'zipp'}
    todo, seen, lacking = ['hsnet_mm', 'mmcv', 'mmengine', 'mmsegmentation'], \
        set(), []
    while todo:
        name = norm(todo.pop())
        if name in seen or name in assumed | allowed:
            continue
        seen.add(name)
        if name not in carried | {'hsnet-mm'}:
            lacking.append(name)
        todo += list(installed_requirements(name))
    assert not lacking, f'add to {PARTIAL.name}: {lacking}'
    assert not carried & assumed


def fake_wheel(folder: Path, name: str, *requires: str) -> None:
    meta = f'Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n' + ''.join(
        f'Requires-Dist: {r}\n' for r in requires)
    with zipfile.ZipFile(folder / f'{name}-1.0-py3-none-any.whl', 'w') as z:
        z.writestr(f'{name}-1.0.dist-info/METADATA', meta)


def fake_sdist(folder: Path, name: str, requires_txt: str) -> None:
    data = requires_txt.encode()
    with tarfile.open(folder / f'{name}-1.0.tar.gz', 'w:gz') as tar:
        info = tarfile.TarInfo(f'{name}-1.0/{name}.egg-info/requires.txt')
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


def test_unmet_requirements_of_fake_wheels(mw, tmp_path):
    fake_wheel(tmp_path, 'mmengine', 'addict', 'opencv-python>=3', 'termcolor',
               'regex; sys_platform == "win32"', 'pytest; extra == "tests"')
    fake_wheel(tmp_path, 'addict')
    fake_wheel(tmp_path, 'yapf', 'tomli>=2; python_version < "3.11"',
               'platformdirs')
    fake_sdist(tmp_path, 'mmcv',
               'addict\nPillow\nrich\n\n[:sys_platform == "win32"]\nregex\n')
    (tmp_path / 'MANIFEST').write_text('not a package\n')
    unmet = mw.unmet_requirements(
        str(tmp_path), '3.12', ['manylinux2014_x86_64'],
        ['opencv-python-headless', 'pillow'])
    # any OpenCV will do; markers are the target's; extras are not wanted
    assert unmet == [
        'platformdirs (needed by yapf)', 'rich (needed by mmcv)',
        'termcolor (needed by mmengine)'
    ]
    unmet = mw.unmet_requirements(
        str(tmp_path), '3.10', ['manylinux2014_x86_64'],
        ['opencv-python-headless', 'pillow', 'rich', 'termcolor'])
    assert unmet == ['platformdirs (needed by yapf)', 'tomli (needed by yapf)']


def test_manifest_and_refusing_a_foreign_folder(mw, tmp_path):
    dest = tmp_path / 'wh'
    dest.mkdir()
    fake_wheel(dest, 'addict')
    fake_sdist(dest, 'mmcv', 'addict\n')
    plan = mw.Plan(str(dest), '3.12', ['manylinux2014_x86_64'], True)
    with pytest.raises(mw.WheelhouseError, match='not empty'):
        mw.check_dest(plan)  # files of unknown origin would mix in
    count, total = mw.write_manifest(plan)
    mw.write_requirement_files(plan)
    sizes = {p.name: p.stat().st_size for p in dest.glob('*-1.0*')}
    assert count == 2 and total == sum(sizes.values())
    fields = mw.read_manifest(str(dest))
    assert fields['mode'] == 'partial' and fields['python'] == '3.12'
    assert fields['platform'] == 'manylinux2014_x86_64'
    assert fields['assumed-present'].startswith('torch numpy')
    assert fields['total'] == f'{total / 1e6:.1f} MB in 2 files'
    manifest = (dest / 'MANIFEST').read_text()
    for name, size in sizes.items():
        assert f'{size:>12}  {name}' in manifest
    mw.check_dest(plan)  # a wheelhouse of the same kind is completed
    for other in (mw.Plan(str(dest), '3.11', ['manylinux2014_x86_64'], True),
                  mw.Plan(str(dest), '3.12', ['manylinux2014_x86_64'], False)):
        with pytest.raises(mw.WheelhouseError, match='remove it'):
            mw.check_dest(other)
    top = (dest / 'install-requirements.txt').read_text().split()
    assert top[:3] == [
        'hsnet_mm==0.1.0', 'mmengine==0.10.7', 'mmsegmentation==1.2.2'
    ]
    assert not [r for r in top if r.startswith(('mmcv', 'torch'))]
    assert (dest / 'build-requirements.txt').read_text().split() == \
        mw.read_requirements(REPO_ROOT / 'requirements' / 'build.txt')


def test_build_isolation_follows_the_local_setuptools(mw, monkeypatch,
                                                      tmp_path):
    versions = {'setuptools': '80.9.0'}

    def version(name):
        if name not in versions:
            raise mw.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(mw.metadata, 'version', version)
    assert mw.build_isolation() == (['--no-build-isolation'], {})
    versions['setuptools'] = '81.0.0'  # no pkg_resources: isolate, capped
    constraint = tmp_path / 'c.txt'
    assert mw.build_isolation(str(constraint)) == ([], {
        'PIP_CONSTRAINT':
        str(constraint)
    })
    assert constraint.read_text() == 'setuptools<81\n'
    del versions['setuptools']
    args, env = mw.build_isolation()  # a plan writes no file
    assert args == [] and 'setuptools<81' in env['PIP_CONSTRAINT']


def test_finish_refuses_torch_and_an_oversized_partial(mw, monkeypatch,
                                                       tmp_path, capsys):
    dest = tmp_path / 'wh'
    dest.mkdir()
    fake_wheel(dest, 'addict')
    plan = mw.Plan(str(dest), '3.12', ['manylinux2014_x86_64'], True)
    assert mw.finish(plan) == 0
    assert f'{dest}: 1 files, 0.0 MB (partial, CPython 3.12' in \
        capsys.readouterr().out
    monkeypatch.setattr(mw, 'PARTIAL_BUDGET_MB', 1e-6)
    with pytest.raises(mw.WheelhouseError, match='over its .* MB budget'):
        mw.finish(plan)
    fake_wheel(dest, 'rich', 'pygments')
    with pytest.raises(mw.WheelhouseError, match='pygments .needed by rich'):
        mw.finish(plan)
    fake_wheel(dest, 'nvidia_cublas')
    with pytest.raises(mw.WheelhouseError, match='must not carry PyTorch'):
        mw.finish(plan)
