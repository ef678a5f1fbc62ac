#!/bin/bash
# Training on the GPU: 200 steps of configs/fashion_mlp.ini whose loss curve
# agrees with the CPU backend's within 1e-3 relative at every logged step
# (with step times from CUDA events and the model FLOP utilization logged),
# and an exact resume on the GPU (100 steps, then 100 more, bitwise equal to
# 200 in one run). SKIPPED (77) where no GPU is usable.
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
echo "gpu_train: all passed"
