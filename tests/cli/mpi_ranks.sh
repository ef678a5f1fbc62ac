#!/bin/bash
# Data parallelism: 1, 2 and 4 ranks make the same updates, up to the order
# of float additions: after 60 steps on Fashion-MNIST the largest difference
# of any parameter or Adam moment from the 1-rank run is at most 2e-5. So do
# micro-batches (train.grad_accum) in place of ranks.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || fail "install openmpi-bin"
cfg="$src/configs/fashion_mlp.ini"
common=(--set train.max_steps=60 --set train.log_every=20 "${PIN[@]}")
for n in 1 2 4; do
    # 4 ranks with small buckets: one a layer, started during backward
    buckets=(); [ $n -eq 4 ] && buckets=(--set comm.bucket_mb=0.1)
    mpi $n "$prog" "$cfg" "${common[@]}" "${buckets[@]}" --set run.dir=r$n >out.txt 2>err.txt ||
        fail "$n ranks: exit status $?"
    grep -q "on cpu (OpenBLAS, 1 thread), $n rank" out.txt || fail "$n ranks: no start-up line"
    [ -f r$n/checkpoints/ckpt-60.h5 ] || fail "$n ranks: no checkpoint"
done
grep -q '"split":"test"' r4/metrics.jsonl || fail "no evaluation with 4 ranks"
ckpt_close r1/checkpoints/ckpt-60.h5 r2/checkpoints/ckpt-60.h5 || fail "2 ranks differ from 1"
ckpt_close r1/checkpoints/ckpt-60.h5 r4/checkpoints/ckpt-60.h5 || fail "4 ranks differ from 1"
# Gradient accumulation: 1 rank in 4 micro-batches and 2 ranks in 2 make
# the updates of 4 ranks, up to the order of the float sums (measured: 1 x 4
# within 4.2e-7 of 4 ranks; 2 x 2 bitwise equal).
"$prog" "$cfg" "${common[@]}" --set train.grad_accum=4 --set run.dir=a4 >out.txt 2>err.txt ||
    fail "grad_accum 4: exit status $?"
mpi 2 "$prog" "$cfg" "${common[@]}" --set train.grad_accum=2 --set run.dir=a2 >out.txt 2>err.txt ||
    fail "2 ranks, grad_accum 2: exit status $?"
ckpt_close r4/checkpoints/ckpt-60.h5 a4/checkpoints/ckpt-60.h5 ||
    fail "1 rank of 4 micro-batches differs from 4 ranks"
ckpt_close r4/checkpoints/ckpt-60.h5 a2/checkpoints/ckpt-60.h5 ||
    fail "2 ranks of 2 micro-batches differ from 4 ranks"
expect_fail 1 "data.batch_size = 64 over 1 ranks is 64 rows a rank, which train.grad_accum = 3" \
    "$cfg" --set train.grad_accum=3
echo "ok: grad_accum"
# Evaluation is sharded: every test sample counted once, so the accuracy
# agrees to the rounding of the parameters.
a1=$(grep -o '"accuracy":[0-9.]*' r1/metrics.jsonl | tail -1 | cut -d: -f2)
a4=$(grep -o '"accuracy":[0-9.]*' r4/metrics.jsonl | tail -1 | cut -d: -f2)
awk -v a="$a1" -v b="$a4" 'BEGIN { d = a - b; exit !(d < 0.002 && d > -0.002) }' ||
    fail "test accuracy with 4 ranks ($a4) is not that of 1 rank ($a1)"
# A batch that does not divide over the ranks is a config error, told once.
mpi 3 "$prog" "$cfg" --set run.dir=r3 >out.txt 2>err.txt && fail "batch 64 over 3 ranks was accepted"
[ "$(grep -c 'accel-train: error: data.batch_size = 64 does not divide evenly over 3 ranks' err.txt)" -eq 1 ] ||
    fail "the 3-rank error is not one line"
[ ! -e r3 ] || fail "the failed 3-rank start wrote a run directory"
echo "mpi_ranks: all passed"
