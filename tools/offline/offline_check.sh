#!/usr/bin/env bash
# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
#
# The offline install's round trip on this machine (`make offline-check`;
# not part of `make test`: mmcv compiles, ~20 min on 2 cores):
#
# 1. make a partial wheelhouse for this machine's Python, and a partial
#    and a full one for Python 3.12 (their sizes; the 3.12 partial must stay
#    under 40 MB, which make_wheelhouse.py enforces);
# 2. make a fresh venv with torch 2.13.0, NumPy, OpenCV, SciPy and
#    Matplotlib from the normal index: a target that has them already;
# 3. install hsnet-mm into it from the partial wheelhouse with pip's
#    configuration and the proxies pointed nowhere (no network), which
#    compiles mmcv's ops and checks `import hsnet_mm, mmseg, mmcv.ops`.
#
# Everything lands in $OFFLINE_CHECK_DIR (default work_dirs/offline_check).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

DIR="${OFFLINE_CHECK_DIR:-work_dirs/offline_check}"
TOOL_PY="${TOOL_PY:-.venv/bin/python}"
BASE_PY="${PYTHON:-python3}"
HERE_PY="$("$BASE_PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
rm -rf "$DIR"
mkdir -p "$DIR"

sizes=()
for spec in "$HERE_PY --partial" "3.12 --partial" "3.12"; do
    set -- $spec
    dest="$DIR/wheelhouse-py$1${2:+-partial}"
    "$TOOL_PY" tools/offline/make_wheelhouse.py --python-version "$1" \
        ${2:+"$2"} --dest "$dest" >"$dest.log" 2>&1 ||
        { tail -n 20 "$dest.log"; exit 1; }
    sizes+=("$(tail -n 1 "$dest.log")")
done

echo "fresh venv $DIR/venv ($BASE_PY): torch 2.13.0 and the scientific stack"
"$BASE_PY" -m venv "$DIR/venv"
"$DIR/venv/bin/python" -m pip install -q -U pip
"$DIR/venv/bin/python" -m pip install -q torch==2.13.0 'numpy<2.3' \
    opencv-python-headless scipy matplotlib

echo "offline install from $DIR/wheelhouse-py$HERE_PY-partial"
START=$SECONDS
env -u PIP_FIND_LINKS -u PIP_EXTRA_INDEX_URL -u PIP_INDEX_URL \
    PIP_CONFIG_FILE=/dev/null http_proxy=http://127.0.0.1:9 \
    https_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
    HTTPS_PROXY=http://127.0.0.1:9 no_proxy= NO_PROXY= \
    bash tools/offline/install.sh "$DIR/wheelhouse-py$HERE_PY-partial" \
    --venv "$DIR/venv" 2>&1 | tee "$DIR/install.log"
echo "offline install took $((SECONDS - START)) s"
for line in "${sizes[@]}"; do
    echo "$line"
done
