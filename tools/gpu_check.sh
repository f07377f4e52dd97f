#!/usr/bin/env bash
# Copyright (c) hsnet-mm contributors. Licensed under the Apache License 2.0.
#
# Prove hsnet-mm on a CUDA machine in under 5 minutes, install included:
#
#   bash tools/gpu_check.sh WHEELHOUSE [--out DIR] [--dry-run] [--skip-install]
#
# On a machine that already has PyTorch with CUDA (no network needed), it
# installs the project from WHEELHOUSE (tools/offline/install.sh), then runs
# the CUDA tests (pytest -m cuda), short fp16 and bf16 AMP training runs on
# the synthetic set, a one-GPU nccl DDP run (tools/dist_train.sh) and the
# benchmark matrix of R101 and R50 at 400 px (benchmark.py --matrix), each
# bounded by `timeout`. DIR (default work_dirs/gpu_check) gets
# gpu_report.md and gpu_report.json, rewritten after every step (the
# targets of issue 23 beside the paper's Table 5), the logs in logs/ and
# the matrices' JSON. --dry-run (any machine) checks the wheelhouse and
# prints the plan. PYTHON picks the interpreter (default python3); the
# timeouts can be changed with T_INSTALL, T_TESTS, T_AMP, T_DDP,
# T_BENCH_R101 and T_BENCH_R50 (seconds). Exit code 2: a bad argument or
# wheelhouse, or no CUDA; otherwise 0 when every step passed, else 1.
set -u -o pipefail

PROG=gpu_check.sh
die() {
    echo "$PROG: error: $*" >&2
    exit 2
}
usage() {
    sed -n '6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}
absolute() {
    case "$1" in
    /*) echo "$1" ;;
    *) echo "$PWD/$1" ;;
    esac
}

WHEELHOUSE=''
OUT=''
DRY_RUN=0
SKIP_INSTALL=0
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help)
        usage
        exit 0
        ;;
    --out)
        [ $# -ge 2 ] && [ -n "$2" ] || die '--out needs a folder'
        OUT="$2"
        shift 2
        ;;
    --dry-run)
        DRY_RUN=1
        shift
        ;;
    --skip-install)
        SKIP_INSTALL=1
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
[ -n "$WHEELHOUSE" ] || die 'no WHEELHOUSE given (usage: bash tools/gpu_check.sh WHEELHOUSE [--out DIR] [--dry-run])'
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || die "python $PY not found (set PYTHON)"
WHEELHOUSE="$(absolute "$WHEELHOUSE")"
OUT="$(absolute "${OUT:-work_dirs/gpu_check}")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || die "cannot enter $ROOT"
REPORT=(tools/gpu_check_report.py)
WHEELS="$("$PY" "${REPORT[@]}" check-wheelhouse "$WHEELHOUSE")" || exit 2

# Budgets (seconds): the sum stays under 5 minutes with the reports. The
# install compiles mmcv's CPU ops (13 min of 2 cores here: ~2 min on 16);
# a rerun skips it (--skip-install).
T_INSTALL=${T_INSTALL:-125}
T_TESTS=${T_TESTS:-45}
T_AMP=${T_AMP:-20}  # each of fp16 and bf16
T_DDP=${T_DDP:-30}
T_BENCH_R101=${T_BENCH_R101:-25}
T_BENCH_R50=${T_BENCH_R50:-25}
for var in T_INSTALL T_TESTS T_AMP T_DDP T_BENCH_R101 T_BENCH_R50; do
    case "${!var}" in
    '' | *[!0-9]* | 0) die "$var=${!var}: expected a positive number of seconds" ;;
    esac
done

# A few iterations of the synthetic demo config: 48 training episodes in
# batches of 8 (6 iterations) and 16 validation episodes, in-process data.
CONFIG=configs/hsnet/hsnet_r18_synthetic_1shot.py
SHORT=(train_cfg.max_epochs=1 train_dataloader.dataset.num_episodes=48
    val_dataloader.dataset.num_episodes=16 train_dataloader.num_workers=0
    train_dataloader.persistent_workers=False val_dataloader.num_workers=0
    val_dataloader.persistent_workers=False default_hooks.logger.interval=1)
if grep -q -- '--amp-dtype' tools/train.py; then
    AMP16=(--amp --amp-dtype float16 --cfg-options "${SHORT[@]}")
    AMP_BF16=(--amp --amp-dtype bfloat16 --cfg-options "${SHORT[@]}")
else  # train.py without --amp-dtype: the optimizer wrapper's dtype
    AMP16=(--amp --cfg-options "${SHORT[@]}")
    AMP_BF16=(--amp --cfg-options "${SHORT[@]}" optim_wrapper.dtype=bfloat16)
fi
# The matrix: the targets' configurations run first, and each matrix stops
# starting configurations 7 s before its timeout (imports, CUDA, models).
BENCH=(tools/analysis_tools/benchmark.py --device cuda --matrix --img-size 400
    --warmup 1 --repeat 10 --config-seconds 2)

NAMES=()
declare -A TIMEOUT COMMAND BENCH_OUT BENCH_MODEL
step() {  # step NAME TIMEOUT COMMAND...: add a step to the plan
    local name=$1 timeout=$2
    shift 2
    NAMES+=("$name")
    TIMEOUT[$name]=$timeout
    COMMAND[$name]="$(printf '%q ' "$@")"
    COMMAND[$name]="${COMMAND[$name]% }"
}
if [ "$SKIP_INSTALL" = 0 ]; then
    step install "$T_INSTALL" bash tools/offline/install.sh "$WHEELHOUSE" --python "$PY"
fi
step tests "$T_TESTS" "$PY" -m pytest -m cuda -q -ra -p no:cacheprovider
step amp_fp16 "$T_AMP" "$PY" tools/train.py "$CONFIG" --work-dir "$OUT/work/amp_fp16" "${AMP16[@]}"
step amp_bf16 "$T_AMP" "$PY" tools/train.py "$CONFIG" --work-dir "$OUT/work/amp_bf16" "${AMP_BF16[@]}"
step ddp_nccl "$T_DDP" env PYTHON="$PY" PORT="${PORT:-29531}" bash tools/dist_train.sh "$CONFIG" 1 \
    --work-dir "$OUT/work/ddp_nccl" --cfg-options "${SHORT[@]}" env_cfg.dist_cfg.backend=nccl
BENCH_OUT[bench_r101]="$OUT/bench_r101.json"
BENCH_MODEL[bench_r101]=R101
step bench_r101 "$T_BENCH_R101" "$PY" "${BENCH[@]}" configs/hsnet/hsnet_r101_pascal5i_fold0_1shot.py \
    --time-budget $((T_BENCH_R101 > 8 ? T_BENCH_R101 - 7 : 1)) --out "${BENCH_OUT[bench_r101]}"
BENCH_OUT[bench_r50]="$OUT/bench_r50.json"
BENCH_MODEL[bench_r50]=R50
step bench_r50 "$T_BENCH_R50" "$PY" "${BENCH[@]}" configs/hsnet/hsnet_r50_pascal5i_fold0_1shot.py \
    --time-budget $((T_BENCH_R50 > 8 ? T_BENCH_R50 - 7 : 1)) --out "${BENCH_OUT[bench_r50]}"

TOTAL=0
for name in "${NAMES[@]}"; do
    TOTAL=$((TOTAL + ${TIMEOUT[$name]}))
done
echo "$WHEELS"
echo "plan: ${#NAMES[@]} steps, timeouts ${TOTAL} s in all; python: $PY; report: $OUT/gpu_report.md"
i=0
for name in "${NAMES[@]}"; do
    i=$((i + 1))
    echo "  $i. $name (timeout ${TIMEOUT[$name]} s): ${COMMAND[$name]}"
done
[ -f tools/offline/install.sh ] || [ "$SKIP_INSTALL" = 1 ] ||
    echo "warning: tools/offline/install.sh is missing: the install step will fail"
if [ "$DRY_RUN" = 1 ]; then
    echo 'dry run: nothing was run'
    exit 0
fi

mkdir -p "$OUT/logs" || die "cannot create $OUT"
PLAN="$OUT/plan.tsv"
: >"$PLAN"
for name in "${NAMES[@]}"; do
    printf '%s\t%s\t%s\n' "$name" "${TIMEOUT[$name]}" "${COMMAND[$name]}" >>"$PLAN"
done
now_ms() { echo $(($(date +%s%N) / 1000000)); }
seconds_since() {  # seconds since a now_ms value, with 3 decimals
    local ms=$(($(now_ms) - $1))
    printf '%d.%03d' $((ms / 1000)) $((ms % 1000))
}
START=$(now_ms)
# the machine (and whether CUDA is there: exit code 2 when not)
"$PY" "${REPORT[@]}" init "$OUT" --wheelhouse "$WHEELHOUSE" --plan "$PLAN" --python "$PY" || exit 2

FAILED=0
for name in "${NAMES[@]}"; do
    echo "== $name (timeout ${TIMEOUT[$name]} s)"
    t0=$(now_ms)
    timeout -k 5 "${TIMEOUT[$name]}" bash -c "${COMMAND[$name]}" >"$OUT/logs/$name.log" 2>&1
    rc=$?
    secs=$(seconds_since "$t0")
    [ "$rc" = 0 ] || FAILED=1
    extra=()
    if [ -n "${BENCH_OUT[$name]:-}" ]; then
        extra=(--bench "${BENCH_OUT[$name]}" --model "${BENCH_MODEL[$name]}")
    fi
    "$PY" "${REPORT[@]}" step "$OUT" --name "$name" --rc "$rc" --seconds "$secs" \
        ${extra[@]+"${extra[@]}"}
    echo "   exit code $rc after ${secs%.*} s; log: $OUT/logs/$name.log"
done
"$PY" "${REPORT[@]}" finish "$OUT" --seconds "$(seconds_since "$START")"
echo "report: $OUT/gpu_report.md ($OUT/gpu_report.json)"
exit "$FAILED"
