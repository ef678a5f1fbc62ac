#!/bin/bash
# bench/run.sh: the performance of accel-train on the CPU backend, three
# tables in Markdown:
# 1. accel-train against PyTorch (Debian's python3-torch, CPU) on the same
#    models, data, batch sizes, initialization scheme and thread counts
#    (fashion_mlp and fashion_cnn; the fortunes GPT from accel-train's own
#    initial weights, bench/torch_gpt.py),
#    alternating the two ROUNDS times: medians of steps/s and their ratio;
#    the machine's matrix-product ceiling (OpenBLAS sgemm, 2048^3) and each
#    trainer's achieved FLOP/s (the forward and backward FLOPs a sample of
#    --dry-run, times samples/s) as a share of it.
# 2. The gradient all-reduce with 2 and 4 ranks (mpirun, one thread each):
#    grad_sync's buckets against one bare MPI_Allreduce of the same bytes
#    (bench_allreduce), and in training, the all-reduce time a step not
#    hidden under backward.
# 3. Start-up of configs/fashion_mlp.ini: launch to the first step, as the
#    program reports it, and the wall time of a whole one-step run.
#   bench/run.sh [BUILD_DIR] [ROUNDS] [ROW...]       (defaults: build, 3)
# ROWs pick rows of table 1 and skip tables 2 and 3: fashion_mlp,
# fashion_cnn, fortunes_gpt, fortunes_gpt_1024 (fortunes_gpt at a window
# of 1024 bytes, 8 windows a step; not in the default run). With
# ACCEL_BENCH_BASE=DIR, DIR's accel-train (another build: the one before a
# change) runs in each round too, its steps/s in a column of its own.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
rounds=${2:-3}
shift $(($# < 2 ? $# : 2))
rows=("$@")
prog=$build/accel-train
base=${ACCEL_BENCH_BASE:+$ACCEL_BENCH_BASE/accel-train}
sets=() # the table 1 row's --set options
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
py=${ACCEL_BENCH_PYTHON:-/usr/bin/python3}
[ -x "$prog" ] && [ -x "$build/bench_allreduce" ] || { echo "bench: no $prog or bench_allreduce (build first)" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "bench: no mpirun (apt-get install openmpi-bin)" >&2; exit 1; }
"$py" -c "import torch" 2>/dev/null || { echo "bench: $py has no torch (apt-get install python3-torch)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/sgemm_peak" "$src/bench/sgemm_peak.c" $(pkg-config --cflags --libs openblas) ||
    { echo "bench: cannot build sgemm_peak" >&2; exit 1; }

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# dry CONFIG SED_SCRIPT: a figure from the config's --dry-run summary
# (with the row's --set options)
dry() {
    "$prog" "$1" "${sets[@]}" --dry-run | sed -n "$2"
}

# train RANKS CONFIG STEPS THREADS: a run without evaluation or checkpoints
# but the last, its metrics in $work/run/metrics.jsonl ($program: the
# accel-train that runs, $prog unless set)
train() {
    local n=$1
    shift
    rm -rf "$work/run"
    local launch=()
    [ "$n" -gt 1 ] && launch=(mpirun -np "$n")
    "${launch[@]}" "${program:-$prog}" "$1" --set train.max_steps="$2" --set run.threads="$3" \
        --set data.test= --set train.log_every=$(($2 / 6)) --set checkpoint.every_steps=0 \
        --set run.dir="$work/run" "${sets[@]}" "${@:4}" >/dev/null 2>&1
}

# steady FIELD: the median of a metrics field over the logged windows after
# the first
steady() {
    grep -o "\"$1\":[0-9.e+-]*" "$work/run/metrics.jsonl" | tail -n +2 | cut -d: -f2 | median
}

# accel CONFIG STEPS THREADS [--set ...]: steady-state steps/s, and the
# share of a step spent waiting for data in percent
accel() {
    train 1 "$@" || { echo 0 0; return; }
    local batch
    batch=$(dry "$1" 's/^batch_size = //p')
    awk -v b="$batch" -v r="$(steady samples_per_s)" -v d="$(steady data_ms)" \
        'BEGIN { printf "%.2f %.2f\n", r / b, d * r / b / 10 }'
}

# a row of table 1: NAME:CONFIG:STEPS[:SET,SET...]
specs=(fashion_mlp:fashion_mlp:1500 fashion_cnn:fashion_cnn:150 fortunes_gpt:fortunes_gpt:40
    fortunes_gpt_1024:fortunes_gpt:24:wte.block_size=1024,data.batch_size=8,data.eval_batch_size=8)
[ ${#rows[@]} -gt 0 ] || rows=(fashion_mlp fashion_cnn fortunes_gpt)

printf '| config | threads | accel-train steps/s |%s PyTorch steps/s | ratio | sgemm GFLOP/s | accel-train share | PyTorch share | accel-train data wait |\n' \
    "${base:+ baseline steps/s |}"
printf '|---|---|---|%s---|---|---|---|---|---|\n' "${base:+---|}"
for row in "${rows[@]}"; do
    spec=
    for s in "${specs[@]}"; do [ "${s%%:*}" = "$row" ] && spec=$s; done
    [ -n "$spec" ] || { echo "bench: no row $row" >&2; exit 1; }
    IFS=: read -r name cfgname steps setlist <<<"$spec"
    cfg=$src/configs/$cfgname.ini
    sets=()
    IFS=, read -ra kv <<<"$setlist"
    for x in "${kv[@]}"; do sets+=(--set "$x"); done
    flops=$(dry "$cfg" 's/.* \([0-9.e+]*\) forward and backward$/\1/p')
    batch=$(dry "$cfg" 's/^batch_size = //p')
    extra=() ckpt0=
    if [ "$(dry "$cfg" 's/^format = //p')" = text ]; then
        # a language model: a short evaluation (the one at the
        # end is not timed), and PyTorch starts from accel-train's weights
        extra=(--set data.eval_tokens=1024 --set train.eval_every=0)
        rm -rf "$work/init"
        "$prog" "$cfg" "${sets[@]}" --set train.max_steps=0 --set run.dir="$work/init" >/dev/null 2>&1
        ckpt0=$work/init/checkpoints/ckpt-0.h5
    fi
    for t in 1 2; do
        peak=$(OPENBLAS_NUM_THREADS=$t "$work/sgemm_peak")
        : >"$work/a" && : >"$work/b" && : >"$work/p" && : >"$work/d"
        for r in $(seq "$rounds"); do
            read -r rate wait < <(accel "$cfg" "$steps" "$t" "${extra[@]}")
            echo "$rate" >>"$work/a"
            echo "$wait" >>"$work/d"
            if [ -n "$base" ]; then
                read -r rate wait < <(program=$base accel "$cfg" "$steps" "$t" "${extra[@]}")
                echo "$rate" >>"$work/b"
            fi
            if [ -n "$ckpt0" ]; then
                OMP_NUM_THREADS=$t "$py" "$src/bench/torch_gpt.py" speed "$ckpt0" "$steps" "$t" "$src"
            else
                OMP_NUM_THREADS=$t "$py" "$src/bench/torch_train.py" "$cfg" "$steps" "$t" "$src"
            fi >>"$work/p" 2>/dev/null || echo 0 >>"$work/p"
        done
        a=$(median <"$work/a")
        b=$([ -n "$base" ] && median <"$work/b")
        p=$(median <"$work/p")
        d=$(median <"$work/d")
        awk -v n="$name" -v t="$t" -v a="$a" -v b="$b" -v p="$p" -v g="$peak" -v f="$flops" -v k="$batch" -v d="$d" 'BEGIN {
            share = f * k / 1e9 / g
            printf "| %s | %d | %.2f |%s %.2f | %.2f | %.1f | %.1f%% | %.1f%% | %.2f%% |\n", n, t, a,
                (b == "" ? "" : sprintf(" %.2f |", b)), p, (p > 0 ? a / p : 0), g, 100 * a * share, 100 * p * share, d }'
    done
done
[ $# -eq 0 ] || exit 0
sets=()

echo
printf '| config | ranks | gradient MiB | buckets | bare MPI_Allreduce ms | grad_sync ms | training: step ms | all-reduce not hidden ms |\n'
printf '|---|---|---|---|---|---|---|---|\n'
bucket=$(dry "$src/configs/fashion_mlp.ini" 's/^bucket_mb = //p')
for spec in fashion_mlp:1500 fashion_cnn:90; do
    name=${spec%:*} steps=${spec#*:}
    cfg=$src/configs/$name.ini
    params=$(dry "$cfg" 's/^total: \([0-9]*\) parameters.*/\1/p')
    batch=$(dry "$cfg" 's/^batch_size = //p')
    for n in 2 4; do
        line=$(mpirun -np "$n" "$build/bench_allreduce" "$params" "$bucket" 50 2>/dev/null)
        buckets=$(echo "$line" | sed -n 's/.*buckets \([0-9]*\) .*/\1/p')
        bare=$(echo "$line" | sed -n 's/.*bare \([0-9.]*\) ms.*/\1/p')
        synced=$(echo "$line" | sed -n 's/.*bucketed \([0-9.]*\) ms.*/\1/p')
        step=0 exposed=0
        if train "$n" "$cfg" "$steps" 1; then
            step=$(steady samples_per_s | awk -v b="$batch" '{ printf "%.3f", 1000 * b / $1 }')
            exposed=$(steady allreduce_ms | awk '{ printf "%.3f", $1 }')
        fi
        awk -v c="$name" -v n="$n" -v p="$params" -v k="$buckets" -v a="$bare" -v s="$synced" \
            -v t="$step" -v e="$exposed" 'BEGIN {
            printf "| %s | %d | %.2f | %s | %s | %s | %s | %s |\n", c, n, 4 * p / 1048576, k, a, s, t, e }'
    done
done

echo
printf '| config | start-up (launch to first step) s | whole 1-step run s |\n'
printf '|---|---|---|\n'
cfg=$src/configs/fashion_mlp.ini
: >"$work/s" && : >"$work/w"
for r in $(seq 5); do
    rm -rf "$work/run"
    t0=$(date +%s.%N)
    "$prog" "$cfg" --set train.max_steps=1 --set run.dir="$work/run" >"$work/out" 2>&1 || continue
    t1=$(date +%s.%N)
    sed -n 's/^start-up: \([0-9.]*\) s.*/\1/p' "$work/out" >>"$work/s"
    awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' >>"$work/w"
done
printf '| fashion_mlp | %.3f | %.3f |\n' "$(median <"$work/s")" "$(median <"$work/w")"
