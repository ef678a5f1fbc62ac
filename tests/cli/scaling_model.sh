#!/bin/bash
# The scaling model's pieces: bench_collectives times the three collectives
# and checks their results (on 2 ranks, small sizes), and in --shard mode
# the five a sharded optimizer's bucket could take, and bench/scaling.py
# recovers the latency and bandwidth of collectives that follow the ring
# model exactly (made-up times: 5 us and 2 GB/s), and writes every section
# of bench/scaling.md from them.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
sys=/usr/bin/python3
"$sys" -c "import numpy" 2>/dev/null ||
    { echo "SKIPPED: $sys lacks numpy (apt-get install python3-numpy)"; exit 77; }
bench=$(dirname "$prog")/bench_collectives
mpi 2 "$bench" 1048576 3 >c.csv 2>err.txt || fail "bench_collectives: $(cat err.txt)"
[ "$(head -1 c.csv)" = "op,ranks,bytes,median_ms,min_ms" ] || fail "no CSV header: $(head -1 c.csv)"
for op in allreduce reduce_scatter allgather; do
    [ "$(grep -c "^$op,2,[0-9]*,[0-9.]*,[0-9.]*$" c.csv)" -eq 5 ] ||
        fail "not 5 sizes of $op: $(cat c.csv)"
done
mpi 2 "$bench" --shard 262144 3 >s.csv 2>err.txt || fail "bench_collectives --shard: $(cat err.txt)"
for op in allreduce reduce_scatter_block reduce_scatter_uneven iallreduce ireduce_scatter_uneven; do
    [ "$(grep -c "^$op,2,[0-9]*,[0-9.]*,[0-9.]*$" s.csv)" -eq 3 ] ||
        fail "--shard: not 3 sizes (64 to 256 KiB) of $op: $(cat s.csv)"
done
mpi 2 "$bench" 12 >/dev/null 2>err.txt && fail "a size below 4096 bytes was accepted"
grep -q "^usage: mpirun -np R bench_collectives" err.txt || fail "no usage line"

mkdir res
"$sys" - res <<'PY' || fail "could not write the made-up measurements"
import sys
alpha, beta = 5e-6, 1 / 2e9
for p in (2, 4):
    with open(f"{sys.argv[1]}/collectives-fake-{p}.csv", "w") as f:
        f.write("op,ranks,bytes,median_ms,min_ms\n")
        for op, k in (("allreduce", 2), ("reduce_scatter", 1), ("allgather", 1)):
            for n in (4096, 65536, 1 << 20, 16 << 20):
                t = 1e3 * (k * (p - 1) * alpha + k * (p - 1) / p * n * beta)
                f.write(f"{op},{p},{n},{t:.6f},{t:.6f}\n")
PY
echo 2 >res/cores.txt
"$sys" "$src/bench/scaling.py" res >model.md 2>err.txt || fail "scaling.py: $(cat err.txt)"
for op in allreduce reduce_scatter allgather; do
    grep -q "^| fake | $op | 5.0 | 2.00 | 4, 0% | 4, 0% |$" model.md ||
        fail "$op: not fitted to 5 us and 2 GB/s: $(grep "| $op |" model.md)"
done
for section in "## Predictions" "### gpt2_124m on A100" "### fashion_cnn on H100" \
    "### Checked against published anchors"; do
    grep -q "^$section" model.md || fail "no '$section' in the model's output"
done
"$sys" "$src/bench/scaling.py" empty >/dev/null 2>err.txt && fail "no measurements accepted"
grep -q "no collectives-\*.csv" err.txt || fail "no clear line for missing measurements"
echo "scaling_model: all passed"
