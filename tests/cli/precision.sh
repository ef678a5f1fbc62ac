#!/bin/bash
# train.precision on the CPU backend, which emulates TF32 and bf16 matrix
# products (inputs rounded, float32 sums): a small GPT on the English
# fortunes ends within 0.05 of the fp32 validation loss at both (and not
# bitwise where fp32 ends, so the rounding ran); a bf16 run resumes bitwise;
# its checkpoint holds float32 master weights, which an fp32 run evaluates
# and resumes from; a CNN's convolutions train at bf16; a bad precision, and
# the old optimizer.tf32, get one line each. The GPU's side is in
# tests/gpu/gpu_train.sh.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
sys=/usr/bin/python3
fortunes=/usr/share/games/fortunes
[ -d "$fortunes" ] || { echo "SKIPPED: no $fortunes (apt-get install fortunes)"; exit 77; }
"$sys" -c "import h5py, numpy" 2>/dev/null ||
    { echo "SKIPPED: $sys lacks h5py or numpy (apt-get install python3-h5py)"; exit 77; }

write_gpt_config gpt.ini units=64 block_size=64 mlp=256 blocks=2 tied <<INI
[run]
name = gpt
seed = 5
threads = 1
[data]
format = text
train = $fortunes
exclude = *.dat,*.u8,chinese,tang300,song100
test =
val_fraction = 0.1
eval_tokens = 65536
batch_size = 16
eval_batch_size = 64
[train]
log_every = 100
eval_every = 400
[optimizer]
type = adamw
lr = 0.003
beta2 = 0.99
weight_decay = 0.1
decay = matrices
clip_norm = 1.0
schedule = cosine
warmup_steps = 30
schedule_steps = 400
min_lr = 0.0003
[checkpoint]
every_steps = 200
keep = 5
INI

val_loss() { grep '"split":"val"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/'; }

declare -A loss
for p in fp32 tf32 bf16; do
    run gpt.ini --set run.dir=$p --set train.precision=$p
    [ $rc -eq 0 ] || fail "$p: exit $rc"
    loss[$p]=$(val_loss $p)
done
echo "validation loss after 400 steps: fp32 ${loss[fp32]}, tf32 ${loss[tf32]}, bf16 ${loss[bf16]}"
for p in tf32 bf16; do
    awk -v a="${loss[$p]}" -v b="${loss[fp32]}" 'BEGIN { d = a - b; exit !(d < 0.05 && d > -0.05) }' ||
        fail "$p: validation loss ${loss[$p]}, not within 0.05 of fp32's ${loss[fp32]}"
    ! "$diff" fp32/checkpoints/ckpt-400.h5 $p/checkpoints/ckpt-400.h5 0 >/dev/null 2>&1 ||
        fail "$p: the weights are fp32's bitwise: nothing was rounded"
done
echo "ok: tf32 and bf16 within 0.05 of fp32, and not equal to it"

run gpt.ini --set run.dir=msg --set train.precision=bf16 --set train.max_steps=1
grep -q 'matrix products: bf16 inputs (emulated on the CPU' out.txt ||
    fail "the start-up lines do not say the products are bf16, emulated"
run gpt.ini --set run.dir=msg32 --set train.max_steps=1
! grep -q 'matrix products' out.txt || fail "an fp32 run on the CPU describes its precision"

# Resume: bf16 from step 200 ends bitwise where the uninterrupted run does.
run gpt.ini --set run.dir=part --set train.precision=bf16 --set train.max_steps=200
[ $rc -eq 0 ] || fail "bf16 to step 200: exit $rc"
run gpt.ini --set run.dir=part --set train.precision=bf16 --resume auto
[ $rc -eq 0 ] || fail "bf16 resumed: exit $rc"
grep -q 'resum.*200' out.txt || fail "bf16: not resumed from step 200"
ckpt_same bf16/checkpoints/ckpt-400.h5 part/checkpoints/ckpt-400.h5 ||
    fail "bf16 resumed at step 200 differs from the uninterrupted run"
echo "ok: bf16 resumes bitwise"

# The checkpoint's weights are the float32 master weights: most of them
# are not bfloat16 values (whose low 16 bits are zero).
"$sys" - bf16/checkpoints/ckpt-400.h5 <<'PY' || fail "bf16's checkpoint holds bf16-rounded weights"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r") as f:
    ws = []
    f["model"].visititems(lambda n, o: ws.append(o[()].ravel()) if isinstance(o, h5py.Dataset) else None)
w = np.concatenate(ws).astype(np.float32)
low = (w.view(np.uint32) & 0xFFFF) != 0
print(f"{low.mean():.4f} of {w.size} weights are not bf16 values")
sys.exit(0 if low.mean() > 0.9 else 1)
PY

# fp32 reads a bf16 checkpoint: evaluates it, and resumes from it.
run gpt.ini --set run.dir=ev --eval bf16/checkpoints/ckpt-400.h5
[ $rc -eq 0 ] || fail "fp32 --eval of bf16's checkpoint: exit $rc"
ev=$(grep -o 'loss [0-9.]*' out.txt | head -1 | cut -d' ' -f2)
awk -v a="$ev" -v b="${loss[bf16]}" 'BEGIN { d = a - b; exit !(d < 0.01 && d > -0.01) }' ||
    fail "fp32 evaluates bf16's checkpoint at $ev, bf16 logged ${loss[bf16]}"
mkdir -p mixed/checkpoints && cp bf16/checkpoints/ckpt-200.h5 mixed/checkpoints/
run gpt.ini --set run.dir=mixed --resume auto
[ $rc -eq 0 ] || fail "fp32 resumed from bf16's step 200: exit $rc"
echo "ok: fp32 evaluates ($ev) and resumes from a bf16 checkpoint"

# A CNN: its convolutions run at TF32 in a bf16 run; it trains.
cat >cnn.ini <<'INI'
[run]
name = cnn
threads = 1
[data]
batch_size = 64
test =
[train]
max_steps = 40
log_every = 10
precision = bf16
[layer]
type = conv2d
filters = 8
size = 3
padding = 1
activation = relu
[layer]
type = maxpool
size = 2
[layer]
type = dense
units = 10
INI
run cnn.ini --set data.train="$FASHION/train" --set run.dir=cnn
[ $rc -eq 0 ] || fail "CNN at bf16: exit $rc"
first=$(grep -v split cnn/metrics.jsonl | head -1 | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
last=$(grep -v split cnn/metrics.jsonl | tail -1 | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/')
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < 0.7 * a) }' ||
    fail "CNN at bf16: loss $first -> $last, not learning"
echo "ok: a CNN trains at bf16 (loss $first -> $last)"

expect_fail 1 "--set train.precision=fp16: expected one of fp32,tf32,bf16, got 'fp16'" \
    gpt.ini --set train.precision=fp16
printf '[optimizer]\ntf32 = true\n' >old.ini
expect_fail 1 "old.ini:2: optimizer.tf32 is now train.precision = tf32" old.ini
