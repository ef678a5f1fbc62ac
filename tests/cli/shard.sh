#!/bin/bash
# optimizer.shard (ZeRO stage 1): sharded runs make the updates unsharded
# runs make, on 1, 2 and 4 ranks (an MLP with dropout, AdamW, decay =
# matrices and a clip_norm that clips; 2 ranks in 2 micro-batches; a small
# GPT), checkpoints interchange (sharded 4 ranks resumed unsharded on 2,
# unsharded resumed sharded on 4, each ending where the uninterrupted run
# does), and the Adam state a rank holds is 1/N of the whole, in --dry-run
# and in the backend's allocated bytes; train.on_nonfinite = skip skips on
# every rank together.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || fail "install openmpi-bin"

# n PREFIX ARGS...: a run on n ranks (mpirun even for one, as the others)
runs() {
    local n=$1 dir=$2
    shift 2
    mpi "$n" "$prog" "$@" --set run.dir="$dir" >"$dir.out" 2>"$dir.err" ||
        { cat "$dir.err"; fail "$dir: exit status $?"; }
}
# clips RUN LIMIT: some logged gradient norm passed the clip, so it clipped
clips() {
    grep -o '"grad_norm":[0-9.e+-]*' "$1/metrics.jsonl" | cut -d: -f2 |
        awk -v c="$2" '$1 > c { found = 1 } END { exit !found }' || fail "$1: the norm never passed $2"
}

write_resume_config mlp.ini
mlp=(mlp.ini --set train.max_steps=40 --set optimizer.clip_norm=0.3 --set optimizer.decay=matrices
     --set comm.bucket_mb=0.05)
for n in 1 2 4; do
    runs $n u$n "${mlp[@]}"
    runs $n s$n "${mlp[@]}" --set optimizer.shard=true
    ckpt_close u$n/checkpoints/ckpt-40.h5 s$n/checkpoints/ckpt-40.h5 ||
        fail "MLP on $n ranks: sharded differs from unsharded"
done
clips u4 0.3
grep -q "gradients: reduce-scattered with mpi.*Adam state sharded over 4 ranks" s4.out ||
    fail "no start-up line of the sharded sync"
grep -q "optimizer.shard = true: one rank holds the whole Adam state" s1.out ||
    fail "one rank: no note that sharding changes nothing"
ckpt_same u1/checkpoints/ckpt-40.h5 s1/checkpoints/ckpt-40.h5 || fail "one rank: shard changed the run"
runs 2 ua2 "${mlp[@]}" --set train.grad_accum=2
runs 2 sa2 "${mlp[@]}" --set train.grad_accum=2 --set optimizer.shard=true
ckpt_close ua2/checkpoints/ckpt-40.h5 sa2/checkpoints/ckpt-40.h5 ||
    fail "2 ranks of 2 micro-batches: sharded differs from unsharded"
ckpt_close u4/checkpoints/ckpt-40.h5 sa2/checkpoints/ckpt-40.h5 ||
    fail "sharded 2 ranks x 2 micro-batches differ from 4 ranks"
echo "ok: MLP sharded = unsharded on 1, 2 and 4 ranks and with grad_accum"

# Checkpoints interchange: each resumed run says where it resumed, and ends
# where the uninterrupted 4-rank run does.
mkdir -p x2/checkpoints x4/checkpoints
cp s4/checkpoints/ckpt-20.h5 x2/checkpoints/
runs 2 x2 "${mlp[@]}" --resume auto
grep -q "resuming from x2/checkpoints/ckpt-20.h5: step 20" x2.out || fail "x2 did not resume"
ckpt_close u4/checkpoints/ckpt-40.h5 x2/checkpoints/ckpt-40.h5 ||
    fail "a sharded 4-rank checkpoint resumed unsharded on 2 ranks went elsewhere"
cp u2/checkpoints/ckpt-20.h5 x4/checkpoints/
runs 4 x4 "${mlp[@]}" --set optimizer.shard=true --resume auto
grep -q "resuming from x4/checkpoints/ckpt-20.h5: step 20" x4.out || fail "x4 did not resume"
ckpt_close u4/checkpoints/ckpt-40.h5 x4/checkpoints/ckpt-40.h5 ||
    fail "an unsharded checkpoint resumed sharded on 4 ranks went elsewhere"
echo "ok: checkpoints interchange"

# A small GPT (dropout in its attention), buckets small enough to split
# layers' pieces unevenly.
write_gpt_config lm.ini dropout=0.1 <<'INI'
[run]
name = lm
seed = 3
threads = 1
[data]
format = text
train = text
test =
val_fraction = 0.1
batch_size = 8
[train]
max_steps = 30
log_every = 5
[optimizer]
type = adamw
lr = 0.01
weight_decay = 0.1
decay = matrices
clip_norm = 0.5
[comm]
bucket_mb = 0.02
INI
mkdir text
for i in $(seq 1 300); do echo "the quick brown fox $((i % 7)) jumps over the lazy dog"; done >text/a.txt
# The tolerance is text_lm's for this GPT (see there): the keys' third of
# c_attn.bias has a gradient of exactly 0 but for rounding, which Adam turns
# into steps of up to lr wherever the sums' order differs; 99.5% of the
# values within 5e-6. (Measured here: bitwise equal, as Open MPI's
# reduce-scatter sums in the all-reduce's order; another MPI need not.)
for n in 2 4; do
    runs $n lu$n lm.ini
    runs $n ls$n lm.ini --set optimizer.shard=true
    "$diff" lu$n/checkpoints/ckpt-30.h5 ls$n/checkpoints/ckpt-30.h5 0.05 0.995 5e-6 ||
        fail "GPT on $n ranks: sharded differs from unsharded"
done
clips lu4 0.5
echo "ok: GPT sharded = unsharded on 2 and 4 ranks"

# Memory: a wider MLP (1.9 M parameters), 4 ranks. --dry-run's Adam state
# is a quarter of the unsharded one; the backend's allocated bytes drop by
# the moments a rank no longer holds.
wide=("$src/configs/fashion_mlp.ini" --set fc1.units=2048 "${PIN[@]}")
mpi 4 "$prog" "${wide[@]}" --dry-run >dry_u.txt 2>&1 || fail "--dry-run: exit status $?"
mpi 4 "$prog" "${wide[@]}" --set optimizer.shard=true --dry-run >dry_s.txt 2>&1 ||
    fail "sharded --dry-run: exit status $?"
adam_u=$(sed -n 's/.*Adam state \([0-9.]*\) MiB,.*/\1/p' dry_u.txt)
adam_s=$(sed -n 's/.*Adam state \([0-9.]*\) MiB (its 1\/4 shard).*/\1/p' dry_s.txt)
[ -n "$adam_u" ] && [ -n "$adam_s" ] || fail "--dry-run shows no Adam state (or no 1/4 shard)"
awk -v u="$adam_u" -v s="$adam_s" 'BEGIN { d = 4 * s - u; exit !(d < 0.3 && d > -0.3) }' ||
    fail "--dry-run: sharded Adam state $adam_s MiB is not a quarter of $adam_u MiB"
runs 4 mu "${wide[@]}" --set train.max_steps=0
runs 4 ms "${wide[@]}" --set train.max_steps=0 --set optimizer.shard=true
mem_u=$(sed -n 's/^memory: \([0-9.]*\) MiB of cpu buffers.*/\1/p' mu.out)
mem_s=$(sed -n 's/^memory: \([0-9.]*\) MiB of cpu buffers.*/\1/p' ms.out)
line=$(grep "Adam state sharded over 4 ranks" ms.out) || fail "no sharded start-up line"
rank_s=$(echo "$line" | sed 's/.*: \([0-9.]*\) MiB a rank.*/\1/')
whole=$(echo "$line" | sed 's/.*(\([0-9.]*\) MiB whole).*/\1/')
awk -v u="$mem_u" -v s="$mem_s" -v a="$rank_s" -v w="$whole" \
    'BEGIN { d = (u - s) - (w - a); exit !(s < u && d < 0.2 && d > -0.2) }' ||
    fail "memory: $mem_s MiB sharded, $mem_u MiB not: not the $whole - $rank_s MiB of moments"
ckpt_same mu/checkpoints/ckpt-0.h5 ms/checkpoints/ckpt-0.h5 || fail "step-0 checkpoints differ"
echo "ok: memory a rank: cpu buffers $mem_u MiB unsharded, $mem_s MiB sharded; Adam state" \
    "$whole MiB whole, $rank_s MiB a rank; --dry-run $adam_u and $adam_s MiB"

# A diverging run (lr 1e30, as cli.nonfinite) with train.on_nonfinite =
# skip: the norm summed over the ranks is non-finite on all of them, so all
# skip the same updates and stop together, told once.
mpi 4 "$prog" "$src/configs/fashion_mlp.ini" --set optimizer.lr=1e30 --set train.max_steps=50 \
    --set train.log_every=1 --set data.test= --set optimizer.shard=true \
    --set train.on_nonfinite=skip --set train.max_skips=3 --set run.dir=nf >out.txt 2>err.txt &&
    fail "a diverging sharded run finished"
[ "$(grep -c 'accel-train: error: step [0-9]*: 4 updates in a row had a non-finite' err.txt)" -eq 1 ] ||
    fail "a diverging sharded run: not one error line"
grep -q '"skipped":3' nf/metrics.jsonl || fail "the sharded run did not count 3 skipped updates"
echo "ok: non-finite updates skipped together"

# comm.backend = nccl has no CPU path, sharded or not: one line.
mpi 2 "$prog" "${wide[@]}" --set optimizer.shard=true --set comm.backend=nccl \
    --set run.dir=bad >out.txt 2>err.txt && fail "comm.backend = nccl on the CPU was accepted"
[ "$(grep -c 'accel-train: error: comm.backend = nccl needs the CUDA backend' err.txt)" -eq 1 ] ||
    fail "comm.backend = nccl: not one line"
echo "shard: all passed"
