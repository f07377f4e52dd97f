# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
"""Gather what installs hsnet-mm on a machine without internet.

Run where pip reaches PyPI, for the target's Python (``make wheelhouse``
calls it)::

    python tools/offline/make_wheelhouse.py --python-version 3.12 --partial

and carry the folder to the target, where ``tools/offline/install.sh``
installs it. Nothing here needs hsnet-mm installed: the standard library
and pip.

The wheelhouse holds, for one Python and platform, never PyTorch (the
target has its own, built for its CUDA):

- mmcv 2.1.0's source (sdist): install.sh compiles its CPU ops there,
  against the target's PyTorch;
- the build tools of ``requirements/build.txt`` (setuptools < 81: mmcv
  2.1's setup.py imports ``pkg_resources``);
- a wheel of hsnet-mm itself;
- full (default): every wheel of hsnet-mm's runtime requirements, mmengine
  and mmsegmentation and their dependencies, as pip resolves them;
- ``--partial``: only ``requirements/offline_partial.txt``, for a target
  that already has PyTorch, NumPy, OpenCV, SciPy and Matplotlib (its
  ``# assumed:`` line); install.sh installs it with ``--no-deps``. The
  script checks that the downloaded wheels need nothing else.

It writes ``MANIFEST`` (what is inside, for which Python and platform, the
sizes), ``install-requirements.txt`` and ``build-requirements.txt`` into the
folder and prints its size. ``--plan`` prints the steps and pip commands
without downloading anything.
"""
import argparse
import datetime
import email.parser
import importlib.util
import os
import os.path as osp
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from importlib import metadata
from typing import (Callable, Dict, Iterable, List, NoReturn, Optional,
                    Sequence, Set, Tuple)

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REQUIREMENTS = osp.join(REPO_ROOT, 'requirements')
PROG = 'make_wheelhouse.py'

MMCV = 'mmcv==2.1.0'
#: A partial wheelhouse for this many MB or more is refused: something
#: large crept into requirements/offline_partial.txt.
PARTIAL_BUDGET_MB = 40
#: Distributions a wheelhouse never holds: the target's PyTorch stack.
NEVER_CARRIED = re.compile(
    r'^(torch|torchvision|torchaudio|triton|nvidia-.*)$')
#: Any of these satisfies a requirement on opencv-python.
OPENCV = ('opencv-python', 'opencv-python-headless', 'opencv-contrib-python',
          'opencv-contrib-python-headless')


class WheelhouseError(Exception):
    """A problem the user can fix: printed on one line, exit code 2."""


def normalize(name: str) -> str:
    """PEP 503 name: ``PyYAML`` -> ``pyyaml``, ``markdown_it_py`` ->
    ``markdown-it-py``."""
    return re.sub(r'[-_.]+', '-', name).lower()


def requirement_name(spec: str) -> str:
    """``mmcv==2.1.0`` -> ``mmcv``."""
    return normalize(re.split(r'[\s<>=!~;\[(@]', spec.strip(), 1)[0])


def read_requirements(path: str) -> List[str]:
    """The requirement lines of ``path``, comments stripped."""
    with open(path) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def read_assumed(path: str) -> List[str]:
    """The names of the ``# assumed:`` line(s) of ``path``."""
    names = []
    with open(path) as f:
        for line in f:
            m = re.match(r'#\s*assumed:(.*)', line.strip())
            if m:
                names += [normalize(n) for n in m.group(1).split()]
    return names


def hsnet_version() -> str:
    with open(osp.join(REPO_ROOT, 'hsnet_mm', 'version.py')) as f:
        return re.search(r"^__version__ = '([^']+)'", f.read(), re.M)[1]


def platform_machine(platforms: Sequence[str]) -> str:
    """``manylinux2014_x86_64`` -> ``x86_64``."""
    for arch in ('x86_64', 'aarch64', 'ppc64le', 's390x', 'i686', 'armv7l'):
        if all(p.endswith(arch) for p in platforms):
            return arch
    return ''


def target_args(python_version: str, platforms: Sequence[str]) -> List[str]:
    """pip's options that pick wheels for the target, not this machine."""
    args = ['--only-binary=:all:', '--implementation', 'cp']
    args += ['--python-version', python_version]
    for p in platforms:
        args += ['--platform', p]
    return args


def build_isolation(
        constraint: Optional[str] = None) -> Tuple[List[str], Dict[str, str]]:
    """How pip builds mmcv's metadata and hsnet-mm's wheel here.

    mmcv 2.1's setup.py imports ``pkg_resources``, which setuptools 81
    dropped, so a plain isolated build (newest setuptools) fails. Where
    this interpreter has setuptools < 81 with ``bdist_wheel`` (70.1 or
    later, or the ``wheel`` package), build with it
    (``--no-build-isolation``); otherwise let pip's isolated build
    environment take ``setuptools<81`` through ``PIP_CONSTRAINT``.

    Args:
        constraint (str, optional): The constraints file to write for the
            isolated build. Defaults to None (write none: a plan).

    Returns:
        tuple: pip's extra options and environment variables.
    """
    try:
        found = metadata.version('setuptools')
    except metadata.PackageNotFoundError:
        found = None
    if found is not None:
        version = tuple(int(x) for x in re.findall(r'\d+', found)[:2])
        has_bdist_wheel = (
            version >= (70, 1)
            or importlib.util.find_spec('wheel') is not None)
        if version < (81, ) and has_bdist_wheel:
            return ['--no-build-isolation'], {}
    if constraint is None:
        return [], {'PIP_CONSTRAINT': '<a file saying setuptools<81>'}
    with open(constraint, 'w') as f:
        f.write('setuptools<81\n')
    return [], {'PIP_CONSTRAINT': constraint}


class Plan:
    """The steps that fill a wheelhouse, as commands."""

    def __init__(self, dest: str, python_version: str,
                 platforms: Sequence[str], partial: bool) -> None:
        self.dest = dest
        self.python_version = python_version
        self.platforms = list(platforms)
        self.partial = partial
        self.isolation, self.isolation_env = build_isolation()
        self.pip = [sys.executable, '-m', 'pip']
        partial_file = osp.join(REQUIREMENTS, 'offline_partial.txt')
        environment = target_environment(python_version, platforms)
        if partial:
            self.assumed = read_assumed(partial_file)
            self.packages = [
                r for r in for_target(
                    read_requirements(partial_file), environment)
                if requirement_name(r) != 'mmcv'
            ]
        else:
            self.assumed = ['torch']
            mm = [
                r for r in read_requirements(
                    osp.join(REQUIREMENTS, 'mminstall.txt'))
                if requirement_name(r) != 'mmcv'
            ]
            self.packages = for_target(
                read_requirements(osp.join(REQUIREMENTS, 'runtime.txt')) + mm,
                environment)
        self.build_tools = for_target(
            read_requirements(osp.join(REQUIREMENTS, 'build.txt')),
            environment)

    def commands(self) -> List[Tuple[str, List[str]]]:
        """(what, pip command) of each download."""
        target = target_args(self.python_version, self.platforms)
        deps = ['--no-deps'] if self.partial else []
        return [
            ('mmcv 2.1.0 source (its ops compile on the target)', self.pip + [
                'download', '--no-deps', '--no-binary', ':all:',
                *self.isolation, '-d', self.dest, MMCV
            ]),
            ('build tools (requirements/build.txt)',
             self.pip + ['download', '--no-deps', *target, '-d', self.dest] +
             self.build_tools),
            ('partial: requirements/offline_partial.txt, no dependencies'
             if self.partial else 'full: the runtime requirements, '
             "mmengine, mmsegmentation and mmcv's, with their dependencies",
             self.pip + ['download', *deps, *target, '-d', self.dest] +
             self.packages),
            (f'hsnet-mm {hsnet_version()} (a wheel of this repository)',
             self.pip + [
                 'wheel', '--no-deps', *self.isolation, '-w', self.dest,
                 '<a copy of the repository>'
             ]),
        ]

    def describe(self) -> str:
        mode = 'partial' if self.partial else 'full'
        lines = [
            f'{mode} wheelhouse for CPython {self.python_version} on '
            f"{', '.join(self.platforms)} into {self.dest}",
            f"never carried (the target's): {', '.join(self.assumed)}",
        ]
        if self.isolation_env:
            lines.append('builds in isolation with ' +
                         ' '.join(f'{k}={v}'
                                  for k, v in self.isolation_env.items()))
        for i, (what, cmd) in enumerate(self.commands(), 1):
            lines.append(f'{i}. {what}:')
            lines.append('   ' + shlex.join(cmd))
        return '\n'.join(lines)


def run_pip(cmd: List[str], env: Dict[str, str]) -> None:
    print('+ ' + shlex.join(cmd), flush=True)
    proc = subprocess.run(cmd, env=dict(os.environ, **env))
    if proc.returncode:
        raise WheelhouseError(f'pip failed (exit code {proc.returncode}): '
                              f"{' '.join(cmd[3:])}")


def build_hsnet_wheel(plan: Plan) -> None:
    """``pip wheel`` a copy of the package's sources (no ``build/`` or
    egg-info left in the checkout)."""
    for old in os.listdir(plan.dest):
        if old.startswith('hsnet_mm-') and old.endswith('.whl'):
            os.remove(osp.join(plan.dest, old))
    with tempfile.TemporaryDirectory(prefix='hsnet-src-') as src:
        for name in ('setup.py', 'README.md', 'LICENSE'):
            shutil.copy(osp.join(REPO_ROOT, name), src)
        ignore = shutil.ignore_patterns('__pycache__', '*.pyc')
        for name in ('hsnet_mm', 'requirements'):
            shutil.copytree(
                osp.join(REPO_ROOT, name), osp.join(src, name), ignore=ignore)
        cmd = plan.commands()[3][1]
        run_pip(cmd[:-1] + [src], plan.isolation_env)


def sdist_requirements(path: str) -> List[str]:
    """The unconditional requirements in an sdist's ``*.egg-info/
    requires.txt`` (mmcv 2.1.0 ships one)."""
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.name.endswith('.egg-info/requires.txt'):
                text = tar.extractfile(member).read().decode()
                return [
                    line.strip()
                    for line in text.split('\n[', 1)[0].splitlines()
                    if line.strip()
                ]
    return []


def wheel_requirements(path: str) -> Tuple[str, List[str]]:
    """(name, Requires-Dist lines) of a wheel."""
    with zipfile.ZipFile(path) as whl:
        meta = next(n for n in whl.namelist()
                    if n.endswith('.dist-info/METADATA') and n.count('/') == 1)
        msg = email.parser.Parser().parsestr(whl.read(meta).decode())
    return normalize(msg['Name']), msg.get_all('Requires-Dist') or []


def _requirement_class():
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip vendors it
        from pip._vendor.packaging.requirements import Requirement
    return Requirement


def target_environment(python_version: str,
                       platforms: Sequence[str]) -> Dict[str, str]:
    """The environment markers of the target: its Python, Linux, no
    extra."""
    return dict(
        python_version=python_version,
        python_full_version=python_version + '.0',
        implementation_name='cpython',
        platform_python_implementation='CPython',
        sys_platform='linux',
        platform_system='Linux',
        os_name='posix',
        platform_machine=platform_machine(platforms),
        extra='')


def for_target(lines: Iterable[str], environment: Dict[str, str]) -> List[str]:
    """The requirements whose marker holds on the target, without the
    marker (pip would evaluate it for this interpreter, not the
    target)."""
    Requirement = _requirement_class()
    specs = []
    for line in lines:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(environment):
            specs.append(line.split(';')[0].strip())
    return specs


def unmet_requirements(dest: str, python_version: str,
                       platforms: Sequence[str],
                       assumed: Iterable[str]) -> List[str]:
    """What the wheelhouse's packages need that it neither holds nor
    assumes present: ``'name (needed by x, y)'`` for each.

    Markers are evaluated for the target (its Python, Linux, no extra).
    """
    Requirement = _requirement_class()
    environment = target_environment(python_version, platforms)
    have: Set[str] = set(assumed)
    needs: Dict[str, List[str]] = {}
    for name in sorted(os.listdir(dest)):
        path = osp.join(dest, name)
        if name.endswith('.whl'):
            dist, reqs = wheel_requirements(path)
        elif name.endswith('.tar.gz'):
            dist = requirement_name(name.split('-')[0])
            reqs = sdist_requirements(path)
        else:
            continue
        have.add(dist)
        for line in reqs:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(environment):
                needs.setdefault(normalize(req.name), []).append(dist)
    if have & set(OPENCV):
        have.update(OPENCV)
    return [
        f"{name} (needed by {', '.join(sorted(set(by)))})"
        for name, by in sorted(needs.items()) if name not in have
    ]


def human_size(size: float) -> str:
    return f'{size / 1e6:.1f} MB'


def write_manifest(plan: Plan) -> Tuple[int, int]:
    """Write MANIFEST; return (number of files, total bytes)."""
    files = sorted(
        f for f in os.listdir(plan.dest) if f.endswith(('.whl', '.tar.gz')))
    sizes = {f: osp.getsize(osp.join(plan.dest, f)) for f in files}
    total = sum(sizes.values())
    now = datetime.datetime.now(datetime.timezone.utc)
    lines = [
        '# hsnet-mm offline wheelhouse: install it with',
        '#   bash tools/offline/install.sh THIS_FOLDER [--venv DIR]',
        '# (docs/get_started.md, "Offline install").',
        f'hsnet-mm: {hsnet_version()}',
        f"mode: {'partial' if plan.partial else 'full'}",
        f'python: {plan.python_version}',
        f"platform: {' '.join(plan.platforms)}",
        f"assumed-present: {' '.join(plan.assumed)}",
        f"created: {now.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f'total: {human_size(total)} in {len(files)} files',
        '',
        'files:',
    ]
    lines += [f'{sizes[f]:>12}  {f}' for f in files]
    with open(osp.join(plan.dest, 'MANIFEST'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return len(files), total


def write_requirement_files(plan: Plan) -> None:
    """What install.sh installs, and the build tools it compiles mmcv
    with."""
    top = [f'hsnet_mm=={hsnet_version()}']
    if plan.partial:
        top += plan.packages
    else:
        top += [
            r for r in plan.packages
            if requirement_name(r) in ('mmengine', 'mmsegmentation')
        ]
    with open(osp.join(plan.dest, 'install-requirements.txt'), 'w') as f:
        f.write('\n'.join(top) + '\n')
    with open(osp.join(plan.dest, 'build-requirements.txt'), 'w') as f:
        f.write('\n'.join(plan.build_tools) + '\n')


def read_manifest(dest: str) -> Dict[str, str]:
    fields = {}
    path = osp.join(dest, 'MANIFEST')
    if osp.isfile(path):
        with open(path) as f:
            for line in f:
                key, sep, value = line.partition(': ')
                if sep and not key.startswith(('#', ' ')):
                    fields[key] = value.strip()
    return fields


def check_dest(plan: Plan) -> None:
    """Refuse a non-empty folder that is not a wheelhouse of the same
    kind (its files would mix in); a matching one is completed."""
    if not osp.exists(plan.dest):
        return
    if not osp.isdir(plan.dest):
        raise WheelhouseError(f'--dest {plan.dest} is not a folder')
    if not os.listdir(plan.dest):
        return
    fields = read_manifest(plan.dest)
    want = dict(
        mode='partial' if plan.partial else 'full',
        python=plan.python_version,
        platform=' '.join(plan.platforms))
    have = {k: fields.get(k) for k in want}
    if have != want:
        raise WheelhouseError(
            f'--dest {plan.dest} is not empty and holds no wheelhouse of '
            f'this kind ({want}): remove it or choose another folder')


def make(plan: Plan) -> int:
    check_dest(plan)
    os.makedirs(plan.dest, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='wheelhouse-') as tmp:
        if plan.isolation_env:
            plan.isolation_env = build_isolation(
                osp.join(tmp, 'build-constraints.txt'))[1]
        download(plan)
    return finish(plan)


def download(plan: Plan) -> None:
    for _, cmd in plan.commands()[:3]:
        run_pip(cmd, plan.isolation_env)
    if not plan.partial:
        # mmcv's own requirements (opencv-python: any OpenCV will do)
        sdist = osp.join(plan.dest, 'mmcv-2.1.0.tar.gz')
        reqs = [
            r for r in sdist_requirements(sdist)
            if requirement_name(r) not in OPENCV + ('mmengine', )
        ]
        cmd = plan.commands()[2][1]
        run_pip(cmd[:cmd.index('-d') + 2] + reqs, plan.isolation_env)
    build_hsnet_wheel(plan)


def finish(plan: Plan) -> int:
    """Check what was downloaded, write MANIFEST and the requirement
    files, print the size."""
    torch_like = [
        f for f in os.listdir(plan.dest)
        if NEVER_CARRIED.match(normalize(f.split('-')[0]))
    ]
    if torch_like:
        raise WheelhouseError(
            f'the wheelhouse must not carry PyTorch, but pip fetched '
            f"{', '.join(sorted(torch_like))}: a requirement pulls it in")
    unmet = unmet_requirements(plan.dest, plan.python_version, plan.platforms,
                               plan.assumed)
    write_requirement_files(plan)
    count, total = write_manifest(plan)
    mode = 'partial' if plan.partial else 'full'
    print(f'{plan.dest}: {count} files, {human_size(total)} ({mode}, '
          f"CPython {plan.python_version}, {', '.join(plan.platforms)}); "
          f'contents in {osp.join(plan.dest, "MANIFEST")}')
    if unmet:
        raise WheelhouseError(
            'the wheelhouse lacks what its packages need: ' +
            '; '.join(unmet) + ' (add them to requirements/'
            'offline_partial.txt, or to its "# assumed:" line)')
    if plan.partial and total >= PARTIAL_BUDGET_MB * 1e6:
        raise WheelhouseError(
            f'the partial wheelhouse is {human_size(total)}, over its '
            f'{PARTIAL_BUDGET_MB} MB budget: see MANIFEST for what grew')
    return 0


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description='Gather the wheels (and mmcv 2.1.0\'s source) that '
        'install hsnet-mm on a machine without internet; never PyTorch')
    parser.add_argument(
        '--python-version',
        default='%d.%d' % sys.version_info[:2],
        help='the target\'s Python, e.g. 3.12 (default: this one\'s)')
    parser.add_argument(
        '--platform',
        default='manylinux2014_x86_64',
        help='the target\'s wheel platform tag(s), separated by commas or '
        'spaces (default: manylinux2014_x86_64, i.e. glibc >= 2.17)')
    parser.add_argument(
        '--partial',
        action='store_true',
        help='only requirements/offline_partial.txt, for a target that has '
        'PyTorch, NumPy, OpenCV, SciPy and Matplotlib')
    parser.add_argument(
        '--dest',
        help='the wheelhouse folder (default: wheelhouse/py<VERSION>'
        '[-partial])')
    parser.add_argument(
        '--plan',
        action='store_true',
        help='print the steps and pip commands; download nothing')
    args = parser.parse_args(argv)
    if not re.fullmatch(r'3\.\d{1,2}', args.python_version):
        parser.error(f'--python-version {args.python_version}: expected '
                     'MAJOR.MINOR, e.g. 3.12')
    args.platforms = [p for p in re.split(r'[\s,]+', args.platform) if p]
    if not args.platforms:
        parser.error('--platform: no platform tag given')
    if args.dest is None:
        args.dest = osp.join(
            'wheelhouse',
            f'py{args.python_version}' + ('-partial' if args.partial else ''))
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    plan = Plan(
        osp.abspath(args.dest), args.python_version, args.platforms,
        args.partial)
    if args.plan:
        print(plan.describe())
        return 0
    return make(plan)


def run_cli(main: Callable[[], int]) -> NoReturn:
    """The tools' error boundary (:func:`hsnet_mm.utils.run_cli`) for a
    script that runs without hsnet-mm's dependencies: a user error is one
    line on stderr and exit code 2 (argparse's own errors exit 2 too)."""
    try:
        code = main()
    except WheelhouseError as err:
        sys.stdout.flush()
        print(f'{PROG}: error: {err}', file=sys.stderr)
        code = 2
    sys.exit(code)


if __name__ == '__main__':
    run_cli(main)
