#!/usr/bin/env bash
# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
#
# Install hsnet-mm from a wheelhouse of tools/offline/make_wheelhouse.py on
# a machine without internet (docs/get_started.md, "Offline install"):
#
#   bash tools/offline/install.sh WHEELHOUSE [--venv DIR] [--python PY]
#                                 [--jobs N] [--dry-run]
#
# into the environment of PY (default: $PYTHON, else python3), or of the
# virtual environment DIR (made with --system-site-packages from PY if
# missing, so that it sees the machine's PyTorch). PyTorch must be there:
# a wheelhouse never carries it.
#
# pip installs with --no-index --find-links WHEELHOUSE (and --no-deps for
# a partial wheelhouse), then compiles mmcv 2.1.0's ops from its source
# for the CPU only, with every core: hsnet-mm calls none of mmcv's CUDA
# ops (it imports mmcv.ops only for collect_env's compiler versions, and
# the mmseg modules it loads import mmcv.ops without calling a CUDA op),
# and mmcv 2.1's setup.py would compile all its CUDA files with whatever
# nvcc is there as soon as a GPU is visible. Then it checks
# `import hsnet_mm, mmseg, mmcv.ops` and that every requirement of the
# installed packages is met, and copies the backbone weights of
# WHEELHOUSE/weights (tools/offline/fetch_weights.py --dest) into torch's
# hub cache. Exit code 2: a bad argument or an unfit target.
set -euo pipefail

PROG=install.sh
die() {
    echo "$PROG: error: $*" >&2
    exit 2
}
usage() {
    sed -n '4,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

WHEELHOUSE=''
VENV=''
PY="${PYTHON:-python3}"
JOBS="$(nproc 2>/dev/null || echo 4)"
DRY_RUN=0
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help)
        usage
        exit 0
        ;;
    --venv | --python | --jobs)
        [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see --help)"
        case "$1" in
        --venv) VENV="$2" ;;
        --python) PY="$2" ;;
        --jobs) JOBS="$2" ;;
        esac
        shift 2
        ;;
    --dry-run)
        DRY_RUN=1
        shift
        ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
        [ -z "$WHEELHOUSE" ] || die "one WHEELHOUSE only, got $WHEELHOUSE and $1"
        WHEELHOUSE="$1"
        shift
        ;;
    esac
done
[ -n "$WHEELHOUSE" ] || die 'no WHEELHOUSE given (see --help)'
[ -d "$WHEELHOUSE" ] || die "wheelhouse $WHEELHOUSE: no such folder"
WHEELHOUSE="$(cd "$WHEELHOUSE" && pwd)"
[ -f "$WHEELHOUSE/MANIFEST" ] ||
    die "wheelhouse $WHEELHOUSE has no MANIFEST: make it with tools/offline/make_wheelhouse.py"
case "$JOBS" in
'' | *[!0-9]* | 0) die "--jobs $JOBS: expected a positive number" ;;
esac

field() { sed -n "s/^$1: //p" "$WHEELHOUSE/MANIFEST" | head -n 1; }
MODE="$(field mode)"
WANT_PY="$(field python)"
case "$MODE" in
partial) DEPS=(--no-deps) ;;
full) DEPS=() ;;
*) die "wheelhouse $WHEELHOUSE: MANIFEST names no mode (partial or full)" ;;
esac
SDIST="$WHEELHOUSE/mmcv-2.1.0.tar.gz"
for f in "$SDIST" "$WHEELHOUSE/install-requirements.txt" \
    "$WHEELHOUSE/build-requirements.txt"; do
    [ -f "$f" ] || die "wheelhouse $WHEELHOUSE lacks $(basename "$f")"
done

run() {  # print a command; run it unless --dry-run
    echo "+ $*"
    [ "$DRY_RUN" = 1 ] || "$@"
}

# The interpreter: PY, or the venv's (made from PY when missing).
if [ -n "$VENV" ]; then
    if [ ! -x "$VENV/bin/python" ]; then
        command -v "$PY" >/dev/null || die "--python $PY: not found"
        run "$PY" -m venv --system-site-packages "$VENV"
    fi
    [ "$DRY_RUN" = 1 ] && [ ! -x "$VENV/bin/python" ] || PY="$VENV/bin/python"
fi
command -v "$PY" >/dev/null || die "python $PY: not found (give --python)"
HAVE_PY="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" ||
    die "python $PY does not run"
case "$PY" in  # absolute: the checks run in another folder
*/*) PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")" ;;
*) PY="$(command -v "$PY")" ;;
esac
[ "$HAVE_PY" = "$WANT_PY" ] ||
    die "the wheelhouse is for Python $WANT_PY, $PY is Python $HAVE_PY (make one with --python-version $HAVE_PY)"
"$PY" -c 'import torch' 2>/dev/null ||
    die "PyTorch is not importable by $PY: install it first (a wheelhouse never carries it)"
"$PY" -m pip --version >/dev/null 2>&1 || die "$PY has no pip"
HEADER="$("$PY" -c 'import os, sysconfig; print(os.path.join(sysconfig.get_paths()["include"], "Python.h"))')"
[ -f "$HEADER" ] ||
    die "mmcv's ops compile against $HEADER, which is missing: install Python $HAVE_PY's development headers"
CXX_BIN="${CXX:-c++}"
command -v "$CXX_BIN" >/dev/null ||
    die "mmcv's ops need a C++ compiler: $CXX_BIN not found (set CXX)"

PIP=("$PY" -m pip install --no-index --find-links "$WHEELHOUSE")
echo "$MODE wheelhouse $WHEELHOUSE (Python $WANT_PY) -> $PY (Python $HAVE_PY)"

# 1. The build tools (setuptools<81 for mmcv's setup.py, wheel, ninja) in
#    a folder of their own, so the environment's setuptools stays as it is
#    (wheel's own requirement, packaging, comes from the environment).
TOOLS="$(mktemp -d "${TMPDIR:-/tmp}/hsnet-build-tools.XXXXXX")"
trap 'rm -rf "$TOOLS"' EXIT
run "${PIP[@]}" -q --no-deps --target "$TOOLS" \
    -r "$WHEELHOUSE/build-requirements.txt"

# 2. hsnet-mm, mmengine, mmsegmentation and (full) their dependencies or
#    (partial) the packages that the target lacks.
run "${PIP[@]}" -q ${DEPS[@]+"${DEPS[@]}"} \
    -r "$WHEELHOUSE/install-requirements.txt"

# 3. mmcv 2.1.0 from source, CPU ops only, all cores. Its requirements
#    came with step 2, hence --no-deps; --no-cache-dir: a wheel cached
#    from another PyTorch would not load.
MMCV_OK=0
if [ "$DRY_RUN" = 0 ] && (cd "$TOOLS" && "$PY" -c \
    'import mmcv, mmcv.ops; assert mmcv.__version__ == "2.1.0"') 2>/dev/null; then
    MMCV_OK=1
    echo 'mmcv 2.1.0 with its ops is installed already: not compiled again'
fi
if [ "$MMCV_OK" = 0 ]; then
    echo "compiling mmcv 2.1.0's CPU ops with $JOBS jobs (13 min with 2)"
    START=$SECONDS
    run env CUDA_VISIBLE_DEVICES= FORCE_CUDA=0 MMCV_WITH_OPS=1 \
        MAX_JOBS="$JOBS" PYTHONPATH="$TOOLS${PYTHONPATH:+:$PYTHONPATH}" \
        PATH="$TOOLS/bin:$PATH" "${PIP[@]}" --no-deps --no-build-isolation \
        --no-cache-dir --force-reinstall "$SDIST"
    [ "$DRY_RUN" = 1 ] || echo "mmcv built in $((SECONDS - START)) s"
fi

# 4. The check, away from any checkout (the current folder comes first).
run_check() {
    (cd "$TOOLS" && run "$PY" "$@")
}
run_check -c 'import hsnet_mm, mmseg, mmcv.ops'
run_check - <<'EOF'
# Every requirement of the installed hsnet-mm stack must be met (a
# partial install took none); a version outside a specifier only warns.
import re
import sys
from importlib import metadata

try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement

OPENCV = {'opencv-python', 'opencv-python-headless', 'opencv-contrib-python',
          'opencv-contrib-python-headless'}


def norm(name):
    return re.sub(r'[-_.]+', '-', name).lower()


installed = {norm(d.metadata['Name']): d for d in metadata.distributions()}
opencv = [installed[n] for n in OPENCV if n in installed]
todo = ['hsnet-mm', 'mmcv', 'mmengine', 'mmsegmentation']
seen, missing, off = set(), [], []
while todo:
    name = todo.pop()
    if name in seen:
        continue
    seen.add(name)
    for line in installed[name].requires or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({'extra': ''}):
            continue
        dep = norm(req.name)
        dists = opencv if dep in OPENCV else [installed.get(dep)]
        dists = [d for d in dists if d is not None]
        if not dists:
            missing.append(f'{req.name} (needed by {name})')
            continue
        if not any(req.specifier.contains(d.version, prereleases=True)
                   for d in dists):
            off.append(f'{req.name} {dists[0].version} (needed by {name}: '
                       f'{req.specifier})')
        todo.append(norm(dists[0].metadata['Name']))
for item in off:
    print(f'warning: version outside the requirement: {item}')
if missing:
    print('missing (install them, or make a full wheelhouse): ' +
          '; '.join(missing), file=sys.stderr)
    sys.exit(1)
EOF

# 5. Backbone weights carried in the wheelhouse -> torch's hub cache.
if compgen -G "$WHEELHOUSE/weights/*.pth" >/dev/null; then
    HUB="$(run_check -c 'import torch; print(torch.hub.get_dir())' | tail -n 1)"
    [ "$DRY_RUN" = 1 ] && HUB='<torch.hub.get_dir()>'
    run mkdir -p "$HUB/checkpoints"
    for f in "$WHEELHOUSE"/weights/*.pth; do
        if [ -f "$HUB/checkpoints/$(basename "$f")" ]; then
            echo "$HUB/checkpoints/$(basename "$f") is there already"
        else
            run cp "$f" "$HUB/checkpoints/"
        fi
    done
fi
[ "$DRY_RUN" = 1 ] && exit 0
VERSIONS="$(run_check -c 'import hsnet_mm, mmcv, mmengine, mmseg, torch; print(f"hsnet-mm {hsnet_mm.__version__}, mmcv {mmcv.__version__}, mmengine {mmengine.__version__}, mmseg {mmseg.__version__}, torch {torch.__version__}")' | tail -n 1)"
echo "installed for $PY: $VERSIONS"
