#!/bin/bash
# check.sh: the GPU check kit. On any machine with an NVIDIA GPU:
#   tests/gpu/check.sh [--out DIR]
# run from a source tree (it builds build-gpu with the CUDA backend unless
# that exists) or from an unpacked launch/bundle.sh tarball (it uses the
# bundle's programs). It runs the GPU tests (every backend operation against
# the CPU backend; 200 steps on the GPU against the CPU; exact resume on the
# GPU; the fortunes GPT at bf16 against fp32), times the example configs on
# the GPU (the MLP; the fortunes GPT and GPT-2 small at fp32 and bf16 in
# tokens/s and MFU), times the calls of the cost model bench/gpu_model.py at
# GPT-2 small's shapes (gpu_calls, at fp32 and bf16) beside the model's
# figures for them, and writes a dated results
# file, with the GPU, driver, CUDA, cuDNN and NCCL versions, under DIR
# (default bench/results). Exits non-zero when a test fails or when there is
# a GPU the build cannot use (naming the driver or architecture and the
# fix), and 77 when there is no GPU.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$root/bench/results
[ "${1:-}" = "--out" ] && out=$2
mkdir -p "$out"

if [ -x "$root/bin/accel-train" ]; then # a bundle
    bin=$root/bin
    prog=$bin/accel-train diff=$bin/ckpt_diff probe=$bin/gpu_probe ops=$bin/test_gpu_ops
    calls=$bin/gpu_calls
    export FASHION_DIR=$root/data/fashion-mnist FORTUNES_DIR=$root/data/fortunes
else # a source tree
    build=${BUILD:-$root/build-gpu}
    if [ ! -x "$build/tests/gpu/test_gpu_ops" ] || [ ! -x "$build/tests/gpu/gpu_calls" ]; then
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DACCEL_CUDA=ON &&
            cmake --build "$build" -j"$(nproc)" || { echo "check.sh: the build failed"; exit 1; }
    fi
    prog=$build/accel-train diff=$build/tests/ckpt_diff probe=$build/tests/gpu/gpu_probe
    ops=$build/tests/gpu/test_gpu_ops calls=$build/tests/gpu/gpu_calls
fi

# The CUDA libraries come from this machine: add the directories that hold
# the ones the programs cannot find yet.
cuda_dirs() {
    ls -d "${CUDA_HOME:-/usr/local/cuda}"/lib64 "${CUDA_HOME:-/usr/local/cuda}"/lib 2>/dev/null
    python3 - 2>/dev/null <<'PY'
import glob, os
try:
    import nvidia
    for base in nvidia.__path__:
        for lib in glob.glob(os.path.join(base, "*", "lib")):
            print(lib)
except ImportError:
    pass
PY
}
missing=$(ldd "$prog" "$ops" | awk '/not found/ { print $1 }' | sort -u)
for lib in $missing; do
    for d in $(cuda_dirs); do
        if [ -e "$d/$lib" ]; then
            export LD_LIBRARY_PATH=$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
            break
        fi
    done
done
still=$(ldd "$prog" "$ops" | awk '/not found/ { print $1 }' | sort -u | tr '\n' ' ')
[ -z "$still" ] || { echo "check.sh: cannot find $still(set LD_LIBRARY_PATH)"; exit 1; }
# 77 (skip) only where there is no GPU at all; a GPU this build cannot use
# (driver, architecture) fails the kit, saying what to do
"$probe"
probed=$?
[ $probed -eq 0 ] || exit $probed

stamp=$(date -u +%Y-%m-%d)
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
slug=$(echo "${gpu:-gpu}" | tr -cs 'A-Za-z0-9' '-' | sed 's/-$//')
report=$out/gpu-$stamp-$slug.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

run_test() { # name command...
    local name=$1
    shift
    echo "== $name"
    if "$@" >"$work/$name.log" 2>&1; then
        status=passed
    else
        status="FAILED ($?)"
        failed=1
    fi
    tail -25 "$work/$name.log"
    printf '| %s | %s |\n' "$name" "$status" >>"$work/tests.md"
}
run_test gpu_ops "$ops"
run_test gpu_train bash "$here/gpu_train.sh" "$prog" "$root" "$diff" "$probe"

# Throughput: the median samples/s of the logged windows after the first.
bench() { # name batch steps
    local dir=$work/bench-$1
    (cd "$work" && "$prog" "$root/configs/fashion_mlp.ini" --set run.device=cuda \
        --set run.dir="$dir" --set data.batch_size="$2" --set train.max_steps="$3" \
        --set train.log_every=$(($3 / 5)) --set data.test= \
        ${FASHION_DIR:+--set data.train=$FASHION_DIR/train} >"$dir.log" 2>&1) || {
        printf '| %s | %s | failed | |\n' "$1" "$2"
        failed=1
        return
    }
    local sps
    sps=$(grep -o '"samples_per_s":[0-9.e+]*' "$dir/metrics.jsonl" | tail -4 | cut -d: -f2 |
        sort -g | awk '{ v[NR] = $1 } END { print (v[2] + v[3]) / 2 }')
    awk -v n="$1" -v b="$2" -v s="$sps" \
        'BEGIN { printf "| %s | %d | %.0f | %.1f |\n", n, b, s, s / b }'
}
{
    echo "| config | batch | samples/s | steps/s |"
    echo "|---|---|---|---|"
    bench fashion_mlp 64 1000
    bench fashion_mlp 1024 500
} >"$work/bench.md"

# Language models on generated text (byte tokens, valid GPT-2 ids too): the
# fortunes GPT's model and GPT-2 small at micro-batches of 8 x 1024, at fp32
# and bf16; tokens/s and the model FLOP utilization the run logs (mfu,
# against the peak of matrix products at that precision, which the start-up
# lines give), medians of the logged windows after the first.
for i in $(seq 1 60000); do
    echo "$i: the quick brown fox jumps over the lazy dog; all work and no play makes a dull day."
done >"$work/lm.txt"
bench_lm() { # name config precision batch steps
    local dir=$work/bench-$1-$3
    (cd "$work" && "$prog" "$root/configs/$2.ini" --set run.device=cuda --set run.dir="$dir" \
        --set data.format=text --set data.train="$work/lm.txt" --set data.test= \
        --set data.val_fraction=0.01 --set data.eval_tokens=8192 --set data.batch_size="$4" \
        --set train.grad_accum=1 --set train.precision="$3" --set train.max_steps="$5" \
        --set train.log_every=$(($5 / 5)) --set train.eval_every=0 \
        --set checkpoint.every_steps=0 >"$dir.log" 2>&1) || {
        printf '| %s | %s | %s | failed | | |\n' "$1" "$3" "$4"
        failed=1
        return
    }
    local t peak
    t=$(sed -n 's/^block_size = //p' "$root/configs/$2.ini" | head -1)
    peak=$(sed -n 's/.*utilization against a peak of \([0-9.]*\) TFLOP.*/\1/p' "$dir.log" | head -1)
    med() { grep -v split "$dir/metrics.jsonl" | grep -o "\"$1\":[0-9.e+-]*" | tail -n +2 | cut -d: -f2 |
        sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : 0 }'; }
    awk -v n="$1" -v p="$3" -v b="$4" -v s="$(med samples_per_s)" -v t="$t" -v m="$(med mfu)" \
        -v k="${peak:-?}" \
        'BEGIN { printf "| %s | %s | %d x %d | %.0f | %.1f%% | %s |\n", n, p, b, t, s * t, 100 * m, k }'
}
{
    echo "| model | precision | batch (windows x tokens) | tokens/s | MFU | peak (TFLOP/s) |"
    echo "|---|---|---|---|---|---|"
    for p in fp32 bf16; do
        bench_lm fortunes_gpt fortunes_gpt $p 32 100
        bench_lm gpt2_124m gpt2_124m $p 8 30
    done
} >"$work/bench_lm.md"

# The cost model's calls (bench/gpu_model.md): each backend call of
# GPT-2 small's step timed once at its shapes (gpu_calls: device events, the
# mean of about 50 ms of repetitions), beside what bench/gpu_model.py
# predicts for it on this GPU (an H100 or A100 by name; both otherwise), so
# the model is checked on first contact. Without python3 the times alone.
{
    if [ ! -x "$calls" ]; then
        echo "No gpu_calls program here (a bundle or build older than the cost model)."
    fi
    for p in fp32 bf16; do
        [ -x "$calls" ] || break
        echo "### $p"
        echo
        if ! "$calls" $p >"$work/calls-$p.csv" 2>"$work/calls-$p.log"; then
            echo "gpu_calls $p failed: $(tail -1 "$work/calls-$p.log")"
            failed=1
        elif python3 "$root/bench/gpu_model.py" --check "$work/calls-$p.csv" --precision $p \
            --gpu "${gpu:-}" >"$work/calls-$p.md" 2>>"$work/calls-$p.log"; then
            cat "$work/calls-$p.md"
        else
            echo "| call | measured us |"
            echo "|---|---|"
            awk -F, 'NR > 1 { printf "| %s | %.1f |\n", $1, 1000 * $2 }' "$work/calls-$p.csv"
        fi
        echo
    done
} >"$work/calls.md"

{
    echo "# GPU check, $stamp"
    echo
    echo "Host: $(hostname); GPU: ${gpu:-unknown}"
    echo
    echo '```'
    nvidia-smi --query-gpu=name,driver_version,memory.total,pci.bus_id --format=csv 2>/dev/null
    "$prog" --version
    echo '```'
    echo
    echo "## Tests"
    echo
    echo "| test | result |"
    echo "|---|---|"
    cat "$work/tests.md"
    echo
    echo "## Throughput (configs/fashion_mlp.ini on the GPU, one rank)"
    echo
    cat "$work/bench.md"
    echo
    echo "## Language models on the GPU (one rank; fp32 and bf16)"
    echo
    cat "$work/bench_lm.md"
    echo
    echo "## The cost model's calls at GPT-2 small's shapes (bench/gpu_model.md)"
    echo
    echo "One call each, measured here and as bench/gpu_model.py predicts it; the ratio is"
    echo "measured over model (above 1: slower than the model says)."
    echo
    cat "$work/calls.md"
    echo "## Logs"
    for f in "$work"/gpu_*.log "$work"/bench-*.log "$work"/calls-*.log; do
        echo
        echo "### $(basename "$f")"
        echo '```'
        tail -40 "$f"
        echo '```'
    done
} >"$report"
echo "check.sh: results in $report"
exit $failed
