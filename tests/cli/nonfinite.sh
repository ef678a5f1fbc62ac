#!/bin/bash
# A diverging run (a learning rate of 1e30 overflows the weights within two
# steps): train.on_nonfinite = stop ends it non-zero naming the step, with
# no checkpoint of the bad state; skip drops those updates, counts them in
# metrics.jsonl, and stops after train.max_skips in a row.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
cfg="$src/configs/fashion_mlp.ini"
common=(--set optimizer.lr=1e30 --set train.max_steps=50 --set train.log_every=1 --set data.test=
        --set checkpoint.every_steps=1)
expect_fail 1 "step [0-9]+: the loss is -?nan and the gradient norm -?nan: training diverged" \
    "$cfg" "${common[@]}" --set run.dir=stop
bad=$(grep -o 'step [0-9]*' err.txt | head -1 | cut -d' ' -f2)
for f in stop/checkpoints/ckpt-*.h5; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .h5 | cut -d- -f2)
    [ "$n" -lt "$bad" ] || fail "a checkpoint of step $n, at or after the bad step $bad"
done
expect_fail 1 "step [0-9]+: 4 updates in a row had a non-finite loss or gradient \(train.max_skips = 3\)" \
    "$cfg" "${common[@]}" --set run.dir=skip --set train.on_nonfinite=skip --set train.max_skips=3
grep -q '"skipped":3' skip/metrics.jsonl || fail "metrics.jsonl does not count the skipped updates"
grep -q "update skipped (1 in a row)" out.txt || fail "no message for a skipped update"
echo "nonfinite: all passed"
