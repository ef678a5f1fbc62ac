#!/bin/bash
# Training on the GPU: 200 steps of configs/fashion_mlp.ini whose loss curve
# agrees with the CPU backend's within 1e-3 relative at every logged step
# (with step times from CUDA events and the model FLOP utilization logged),
# and an exact resume on the GPU (100 steps, then 100 more, bitwise equal to
# 200 in one run); the same run with NCCL forced on one rank; then
# configs/fashion_cnn.ini against the CPU, twice on the GPU (bitwise equal)
# and resumed; a small GPT likewise (and --generate); the fortunes GPT at
# bf16 within 0.05 of its fp32 validation loss. SKIPPED (77) where there is
# no GPU; failed where there is one this build cannot use.
prog=$1 src=$2 diff=$3 probe=$4
source "$src/tests/cli/lib.sh"
"$probe" || exit $? # 77: no GPU (skipped); 1: a GPU this build cannot use
cfg="$src/configs/fashion_mlp.ini"
common=(--set train.max_steps=200 --set train.log_every=20 --set data.test= --set data.train=$FASHION/train)
run "$cfg" "${common[@]}" --set run.device=cpu --set run.dir=cpu
[ $rc -eq 0 ] || fail "CPU run: exit $rc"
run "$cfg" "${common[@]}" --set run.device=cuda --set run.dir=gpu
[ $rc -eq 0 ] || fail "GPU run: exit $rc"
grep -q "on cuda (GPU" out.txt || fail "the GPU run did not run on the GPU"
# the step-time breakdown comes from CUDA events, with the FLOP utilization
grep -q "step time (device, last step): data" out.txt || fail "no device step times"
grep -q '"mfu":' gpu/metrics.jsonl || fail "no model FLOP utilization in metrics.jsonl"
paste <(grep -o '"loss":[0-9.e+-]*' cpu/metrics.jsonl | cut -d: -f2) \
      <(grep -o '"loss":[0-9.e+-]*' gpu/metrics.jsonl | cut -d: -f2) |
    awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; printf "cpu %s gpu %s rel %.2e\n", $1, $2, d;
           if (d > 1e-3) bad = 1 } END { exit bad }' || fail "loss curves differ by more than 1e-3"
[ "$(grep -c '"loss"' gpu/metrics.jsonl)" -eq 10 ] || fail "expected 10 logged steps"

run "$cfg" "${common[@]}" --set train.max_steps=100 --set run.device=cuda --set run.dir=half
[ $rc -eq 0 ] || fail "first half: exit $rc"
run "$cfg" "${common[@]}" --set run.device=cuda --set run.dir=half --resume auto
[ $rc -eq 0 ] || fail "resumed half: exit $rc"
"$diff" gpu/checkpoints/ckpt-200.h5 half/checkpoints/ckpt-200.h5 0 || fail "GPU resume is not exact"
# NCCL forced on this one rank: the bucket launches, the waits and the
# error polling run on any single GPU; summing over one rank changes
# nothing, so it ends bitwise where the run without it does
run "$cfg" "${common[@]}" --set run.device=cuda --set run.dir=nccl --set comm.backend=nccl
[ $rc -eq 0 ] || fail "NCCL on one rank: exit $rc"
grep -q "gradients: all-reduced with nccl" out.txt || fail "NCCL on one rank: not NCCL"
"$diff" gpu/checkpoints/ckpt-200.h5 nccl/checkpoints/ckpt-200.h5 0 ||
    fail "NCCL on one rank changed the result"

# The CNN (convolution, batch norm, max pooling, dropout): against the CPU,
# looser than the MLP (cuDNN's algorithms sum in other orders, and batch
# norm's statistics amplify it); two GPU runs bitwise equal (deterministic
# algorithms only); and an exact resume
cnn="$src/configs/fashion_cnn.ini"
cnn_common=(--set train.max_steps=60 --set train.log_every=20 --set data.test= --set data.train=$FASHION/train)
run "$cnn" "${cnn_common[@]}" --set run.device=cpu --set run.dir=cnn_cpu "${PIN[@]}"
[ $rc -eq 0 ] || fail "CNN on the CPU: exit $rc"
for d in cnn_gpu cnn_gpu2; do
    run "$cnn" "${cnn_common[@]}" --set run.device=cuda --set run.dir=$d
    [ $rc -eq 0 ] || fail "CNN on the GPU ($d): exit $rc"
done
paste <(grep -o '"loss":[0-9.e+-]*' cnn_cpu/metrics.jsonl | cut -d: -f2) \
      <(grep -o '"loss":[0-9.e+-]*' cnn_gpu/metrics.jsonl | cut -d: -f2) |
    awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; printf "CNN cpu %s gpu %s rel %.2e\n", $1, $2, d;
           if (d > 1e-2) bad = 1 } END { exit bad }' || fail "CNN loss curves differ by more than 1e-2"
"$diff" cnn_gpu/checkpoints/ckpt-60.h5 cnn_gpu2/checkpoints/ckpt-60.h5 0 ||
    fail "two GPU runs of the CNN differ"
run "$cnn" "${cnn_common[@]}" --set train.max_steps=30 --set run.device=cuda --set run.dir=cnn_half
[ $rc -eq 0 ] || fail "CNN first half: exit $rc"
run "$cnn" "${cnn_common[@]}" --set run.device=cuda --set run.dir=cnn_half --resume auto
[ $rc -eq 0 ] || fail "CNN resumed half: exit $rc"
"$diff" cnn_gpu/checkpoints/ckpt-60.h5 cnn_half/checkpoints/ckpt-60.h5 0 || fail "CNN GPU resume is not exact"

# A GPT (embedding, layer norm, causal attention, GELU, tied output): its
# loss curve against the CPU's within 1e-2 relative (the attention's and
# layer norm's sums run in other orders), two GPU runs bitwise equal (no
# float atomics anywhere, the embedding's backward included), an exact
# resume, and --generate from the GPU's checkpoint.
for i in $(seq 1 400); do
    echo "line $((i % 13)): the quick brown fox jumps over the lazy dog, $((i * 7 % 100)) times."
done >gpt.txt
write_gpt_config gpt.ini units=64 block_size=64 mlp=256 blocks=2 dropout=0.1 tied named <<'INI'
[run]
name = gpt
seed = 5
[data]
format = text
train = gpt.txt
test =
batch_size = 16
eval_batch_size = 16
[train]
max_steps = 60
log_every = 20
[optimizer]
type = adamw
lr = 0.003
decay = matrices
clip_norm = 1.0
[checkpoint]
every_steps = 30
INI
run gpt.ini --set run.device=cpu --set run.dir=gpt_cpu "${PIN[@]}"
[ $rc -eq 0 ] || fail "GPT on the CPU: exit $rc"
for d in gpt_gpu gpt_gpu2; do
    run gpt.ini --set run.device=cuda --set run.dir=$d
    [ $rc -eq 0 ] || fail "GPT on the GPU ($d): exit $rc"
done
paste <(grep -v split gpt_cpu/metrics.jsonl | grep -o '"loss":[0-9.e+-]*' | cut -d: -f2) \
      <(grep -v split gpt_gpu/metrics.jsonl | grep -o '"loss":[0-9.e+-]*' | cut -d: -f2) |
    awk '{ d = ($1 - $2) / $1; if (d < 0) d = -d; printf "GPT cpu %s gpu %s rel %.2e\n", $1, $2, d;
           if (d > 1e-2) bad = 1 } END { exit bad || NR != 3 }' || fail "GPT loss curves differ by more than 1e-2"
"$diff" gpt_gpu/checkpoints/ckpt-60.h5 gpt_gpu2/checkpoints/ckpt-60.h5 0 || fail "two GPU runs of the GPT differ"
run gpt.ini --set train.max_steps=30 --set run.device=cuda --set run.dir=gpt_half
[ $rc -eq 0 ] || fail "GPT first half: exit $rc"
run gpt.ini --set run.device=cuda --set run.dir=gpt_half --resume auto
[ $rc -eq 0 ] || fail "GPT resumed half: exit $rc"
"$diff" gpt_gpu/checkpoints/ckpt-60.h5 gpt_half/checkpoints/ckpt-60.h5 0 || fail "GPT GPU resume is not exact"
run gpt.ini --set run.device=cuda --generate gpt_gpu/checkpoints/ckpt-60.h5 --prompt "line 3: the" \
    --tokens 40 --temperature 0
[ $rc -eq 0 ] || fail "--generate on the GPU: exit $rc"
echo "GPT generated on the GPU: $(head -c 80 out.txt | tr '\n' ' ')"

# bf16 (train.precision): configs/fortunes_gpt.ini on the English fortunes,
# its whole schedule, at fp32 and at bf16 on the GPU: the validation losses
# within 0.05 of each other; the start-up lines name the tensor cores, or,
# on a GPU without them, the fall back to fp32 (then the losses are equal).
fortunes=${FORTUNES_DIR:-/usr/share/games/fortunes}
[ -d "$fortunes" ] || fail "no fortunes at $fortunes (apt-get install fortunes, or FORTUNES_DIR)"
for p in fp32 bf16; do
    run "$src/configs/fortunes_gpt.ini" --set run.device=cuda --set run.dir=fortunes_$p \
        --set data.train="$fortunes" --set train.precision=$p
    [ $rc -eq 0 ] || fail "fortunes_gpt at $p on the GPU: exit $rc"
done
val() { grep '"split":"val"' "$1/metrics.jsonl" | tail -1 | sed 's/.*"loss":\([0-9.e+-]*\).*/\1/'; }
v32=$(val fortunes_fp32) v16=$(val fortunes_bf16)
echo "fortunes_gpt validation loss on the GPU: fp32 $v32, bf16 $v16"
if grep -q 'matrix products: fp32, as train.precision = bf16 falls back to fp32 math' out.txt; then
    # a GPU without bf16 tensor cores (below compute capability 8.0, a T4):
    # bf16 runs the fp32 products, so the two runs are one
    [ "$v16" = "$v32" ] || fail "bf16 falling back to fp32: validation loss $v16, not fp32's $v32"
else
    grep -q 'matrix products: bf16 inputs on tensor cores' out.txt ||
        fail "bf16: no start-up line for it"
    awk -v a="$v16" -v b="$v32" 'BEGIN { d = a - b; exit !(d < 0.05 && d > -0.05) }' ||
        fail "bf16's validation loss $v16 is not within 0.05 of fp32's $v32"
fi
echo "gpu_train: all passed"
