#!/bin/bash
# scaling.sh: the measurements behind the scaling model, then the model.
#   bench/scaling.sh [BUILD_DIR [RESULTS_DIR]]   (defaults: build, a temporary directory)
# Times MPI's all-reduce, reduce-scatter and all-gather over message sizes
# (bench_collectives) on 2, 3 and 4 ranks, over shared memory and over TCP
# on the loopback interface (and between the test cluster's two namespace
# nodes, as root), and trains configs/fashion_mlp.ini,
# fashion_cnn.ini and fortunes_gpt.ini on 2 ranks over each, with gradient
# buckets of 1 MiB (overlapped with backward) and in one bucket (not), for
# the model to be checked against; then writes bench/scaling.md with
# bench/scaling.py. Measure on an otherwise idle machine: every rank runs
# one thread.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
results=${2:-$(mktemp -d)}
mkdir -p "$results"
results=$(cd "$results" && pwd)
build=$(cd "$build" && pwd)
prog=$build/accel-train
for f in "$prog" "$build/bench_collectives"; do
    [ -x "$f" ] || { echo "scaling.sh: no $f (build first)" >&2; exit 1; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
# transport NAME: the Open MPI settings that make MPI use it
transport() {
    case $1 in
    shm) echo "--mca btl self,vader" ;;
    tcp) echo "--mca btl self,tcp --mca btl_tcp_if_include lo" ;;
    esac
}
echo "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(mpirun --version | head -1); $(date -u +%Y-%m-%d)" \
    >"$results/machine.txt"
nproc >"$results/cores.txt"

for t in shm tcp; do
    for n in 2 3 4; do
        echo "scaling.sh: collectives, $t, $n ranks" >&2
        # shellcheck disable=SC2046
        mpirun -np $n --bind-to none $(transport $t) "$build/bench_collectives" $((64 << 20)) \
            >"$results/collectives-$t-$n.csv"
    done
done
# Between the two nodes of the test cluster (tests/cluster/lib.sh: a UTS
# namespace a node, as root), 1 and 2 ranks a node: TCP over the loopback
# as above, but with Open MPI treating the ranks as on different nodes.
if [ "$(id -u)" -eq 0 ]; then
    (
        fail() { echo "scaling.sh: $*" >&2; exit 1; }
        source "$src/tests/cli/lib.sh"
        source "$src/tests/cluster/lib.sh"
        cluster_start 600 nodea nodeb
        for per in 1 2; do
            echo "scaling.sh: collectives, cluster, 2 nodes x $per" >&2
            mpirun "${CLUSTER_MPI[@]}" --mca mpi_yield_when_idle 1 --bind-to none \
                --host nodea:$per,nodeb:$per -np $((2 * per)) "$build/bench_collectives" \
                $((64 << 20)) >"$results/collectives-cluster-$((2 * per)).csv"
        done
    ) || echo "scaling.sh: the two-node cluster could not run; its transport is left out" >&2
fi

# The last logged window's mean of a metric.
metric() { grep -v split "$1/metrics.jsonl" | tail -1 | grep -o "\"$2\":[0-9.e+-]*" | cut -d: -f2; }
fashion=/usr/share/datasets/fashion-mnist
runs=$(mktemp -d) # the training runs' directories (checkpoints: not results)
trap 'rm -rf "$runs"' EXIT
echo "config,transport,ranks,bucket_mb,step_ms,compute_ms,backward_ms,allreduce_ms,grad_bytes" \
    >"$results/steps.csv"
for cfg in fashion_mlp:400:"--set data.train=$fashion/train" \
    fashion_cnn:60:"--set data.train=$fashion/train" fortunes_gpt:60:"--set data.eval_tokens=8192"; do
    IFS=: read -r name steps extra <<<"$cfg"
    params=$("$prog" "$src/configs/$name.ini" --dry-run | sed -n 's/^total: \([0-9]*\) parameters.*/\1/p')
    for t in shm tcp; do
        for bucket in 1 4096; do
            echo "scaling.sh: $name, $t, 2 ranks, buckets of $bucket MiB" >&2
            dir=$runs/$name-$t-$bucket
            # shellcheck disable=SC2046,SC2086
            mpirun -np 2 --bind-to none $(transport $t) "$prog" "$src/configs/$name.ini" \
                --set run.dir="$dir" --set run.threads=1 --set train.max_steps=$steps \
                --set train.log_every=$((steps / 2)) --set train.eval_every=$((steps * 10)) \
                --set data.test= --set comm.bucket_mb=$bucket --set checkpoint.every_steps=0 \
                $extra >"$dir.log" 2>&1
            fwd=$(metric "$dir" forward_ms) bwd=$(metric "$dir" backward_ms)
            opt=$(metric "$dir" optimizer_ms) data=$(metric "$dir" data_ms)
            ar=$(metric "$dir" allreduce_ms)
            awk -v n=$name -v t=$t -v b=$bucket -v f=$fwd -v w=$bwd -v o=$opt -v d=$data -v a=$ar \
                -v p=$params 'BEGIN { c = f + w + o + d;
                    printf "%s,%s,2,%s,%.3f,%.3f,%.3f,%.3f,%d\n", n, t, b, c + a, c, w, a, 4 * p }' \
                >>"$results/steps.csv"
        done
    done
done
"${PYTHON:-/usr/bin/python3}" "$src/bench/scaling.py" "$results" >"$src/bench/scaling.md"
echo "scaling.sh: measurements in $results; bench/scaling.md written" >&2
