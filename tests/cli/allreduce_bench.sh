#!/bin/bash
# bench_allreduce checks its own result (the sum over ranks of each rank's
# number): here over 2 and 3 ranks, with grad_sync in many small buckets
# and in one, and its one line of figures.
bench=$1
source "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || fail "install openmpi-bin"
for n in 2 3; do
    for mb in 0.01 4; do
        mpi $n "$bench" 100003 $mb 3 >out.txt 2>err.txt || fail "$n ranks, $mb MiB buckets: $(cat err.txt)"
        grep -Eq "^ranks $n  bytes 400012  buckets [0-9]+  bare [0-9.]+ ms  bucketed [0-9.]+ ms$" out.txt ||
            fail "$n ranks: no result line: $(cat out.txt)"
    done
done
grep -q "buckets 1 " out.txt || fail "4 MiB buckets: more than one bucket for 0.4 MB"
mpi 2 "$bench" 5 >out.txt 2>err.txt && fail "a missing argument was accepted"
grep -q "^usage: mpirun -np R bench_allreduce FLOATS BUCKET_MB" err.txt || fail "no usage line"
echo "allreduce_bench: all passed"
