#!/bin/bash
# configs/fashion_mlp.ini for a few steps on the real data: metrics.jsonl and a
# final checkpoint whose layout h5dump (no project code) can read.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
[ -f $FASHION/train-images-idx3-ubyte.gz ] || fail "install dataset-fashion-mnist"
command -v h5dump >/dev/null || fail "install hdf5-tools"
run "$src/configs/fashion_mlp.ini" --set train.max_steps=60 --set train.log_every=20 \
    --set run.dir=out --set checkpoint.every_steps=25 --set checkpoint.keep=2
[ $rc -eq 0 ] || fail "exit status $rc"
grep -q "model 784-256-128-10 (235146 parameters)" out.txt || fail "no model summary"
grep -q "^data: 60000 train, 10000 test samples; batch 64;" out.txt || fail "no data summary"
grep -Eq "test loss [0-9.]+  accuracy 0\.[0-9]+" out.txt || fail "no evaluation line"
[ "$(grep -c '"step":' out/metrics.jsonl)" -ge 3 ] || fail "too few metrics lines"
grep -q '"split":"test"' out/metrics.jsonl || fail "no evaluation in metrics.jsonl"
grep -q '{"step":60,"epoch":1,"loss":' out/metrics.jsonl || fail "no metrics for step 60"
# where the time goes: in each record, and over the whole run
grep '"step":60,' out/metrics.jsonl | grep -Eq '"data_ms":[0-9.e+-]+,"forward_ms":[0-9.e+-]+,"backward_ms":[0-9.e+-]+,"allreduce_ms":[0-9.e+-]+,"optimizer_ms":[0-9.e+-]+' ||
    fail "no step-time breakdown in metrics.jsonl"
grep -Eq '^step time over 60 steps: data [0-9.]+ ms \([0-9]+%\), forward .*, optimizer [0-9.]+ ms' out.txt ||
    fail "no step-time summary"
# (how long start-up takes is bench/run.sh's to measure: a loaded machine
# is slow, not wrong)
grep -Eq '^start-up: [0-9]+\.[0-9]+ s from launch to the first step$' out.txt ||
    fail "no start-up time"
ls out/checkpoints
[ "$(ls out/checkpoints)" = "$(printf 'ckpt-50.h5\nckpt-60.h5')" ] || fail "checkpoints kept: $(ls out/checkpoints)"
h5dump -H out/checkpoints/ckpt-60.h5 >h5.txt || fail "h5dump cannot read the checkpoint"
grep -A3 'DATASET "weight"' h5.txt | grep -q 'SIMPLE { ( 256, 784 )' || fail "fc1 weight is not (256, 784)"
for g in '/model/fc1/weight' '/model/logits/bias' '/optimizer/m/fc2/weight' '/optimizer/v/logits/bias'; do
    h5dump -H -d "$g" out/checkpoints/ckpt-60.h5 >/dev/null || fail "no dataset $g"
done
h5dump -a step out/checkpoints/ckpt-60.h5 | grep -q '(0): 60' || fail "step attribute is not 60"
h5dump -d /config out/checkpoints/ckpt-60.h5 | grep -q 'set train.max_steps=60' || fail "/config lacks the --set lines"
echo "smoke_fashion_mlp: all passed"
