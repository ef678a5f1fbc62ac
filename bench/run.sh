#!/bin/bash
# bench/run.sh: accel-train against PyTorch (Debian's python3-torch, CPU) on
# the same models, data, batch sizes, initialization scheme and thread
# counts, alternating the two ROUNDS times and reporting the medians of
# steps/s and their ratio; and the machine's matrix-product ceiling
# (OpenBLAS sgemm, 2048^3) with each trainer's achieved FLOP/s as a share of
# it. Prints a Markdown table.
#   bench/run.sh [BUILD_DIR] [ROUNDS]       (defaults: build, 3)
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
rounds=${2:-3}
prog=$build/accel-train
py=${ACCEL_BENCH_PYTHON:-/usr/bin/python3}
[ -x "$prog" ] || { echo "bench: no $prog (build first)" >&2; exit 1; }
"$py" -c "import torch" 2>/dev/null || { echo "bench: $py has no torch (apt-get install python3-torch)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/sgemm_peak" "$src/bench/sgemm_peak.c" $(pkg-config --cflags --libs openblas) ||
    { echo "bench: cannot build sgemm_peak" >&2; exit 1; }

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# accel CONFIG STEPS THREADS: steady-state steps/s (the windows after the first)
accel() {
    local dir=$work/run
    rm -rf "$dir"
    "$prog" "$1" --set train.max_steps="$2" --set run.threads="$3" --set data.test= \
        --set train.log_every=$(($2 / 6)) --set checkpoint.every_steps=0 --set run.dir="$dir" \
        >/dev/null 2>&1 || { echo 0; return; }
    local batch
    batch=$("$prog" "$1" --dry-run | sed -n 's/^batch_size = //p')
    grep -o '"samples_per_s":[0-9.e+]*' "$dir/metrics.jsonl" | tail -n +2 | cut -d: -f2 | median |
        awk -v b="$batch" '{ printf "%.1f\n", $1 / b }'
}

printf '| config | threads | accel-train steps/s | PyTorch steps/s | ratio | sgemm GFLOP/s | accel-train share | PyTorch share |\n'
printf '|---|---|---|---|---|---|---|---|\n'
for spec in fashion_mlp:1500 fashion_cnn:150; do
    name=${spec%:*} steps=${spec#*:}
    cfg=$src/configs/$name.ini
    flops=$("$prog" "$cfg" --dry-run | sed -n 's/.*; \([0-9.e+]*\) FLOPs a sample forward.*/\1/p')
    batch=$("$prog" "$cfg" --dry-run | sed -n 's/^batch_size = //p')
    for t in 1 2; do
        peak=$(OPENBLAS_NUM_THREADS=$t "$work/sgemm_peak")
        : >"$work/a" && : >"$work/p"
        for r in $(seq "$rounds"); do
            accel "$cfg" "$steps" "$t" >>"$work/a"
            OMP_NUM_THREADS=$t "$py" "$src/bench/torch_train.py" "$cfg" "$steps" "$t" "$src" >>"$work/p" 2>/dev/null || echo 0 >>"$work/p"
        done
        a=$(median <"$work/a")
        p=$(median <"$work/p")
        awk -v n="$name" -v t="$t" -v a="$a" -v p="$p" -v g="$peak" -v f="$flops" -v b="$batch" 'BEGIN {
            share = 3 * f * b / 1e9 / g
            printf "| %s | %d | %.1f | %.1f | %.2f | %.1f | %.1f%% | %.1f%% |\n", n, t, a, p, (p > 0 ? a / p : 0), g, 100 * a * share, 100 * p * share }'
    done
done
