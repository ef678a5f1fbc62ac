#!/bin/bash
# --eval reports a checkpoint's test loss and accuracy (the same the run
# itself logged), per-class accuracy and the confusion matrix; --predict
# writes the logits and labels.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
cfg="$src/configs/fashion_mlp.ini"
run "$cfg" --set train.max_steps=200 --set run.dir=r --set train.log_every=100
[ $rc -eq 0 ] || fail "training: exit $rc"
logged=$(grep -o '"accuracy":[0-9.]*' r/metrics.jsonl | tail -1 | cut -d: -f2)
run "$cfg" --eval r/checkpoints/ckpt-200.h5 --predict pred.h5
[ $rc -eq 0 ] || fail "--eval: exit $rc"
line=$(grep '^r/checkpoints/ckpt-200.h5 on 10000 test samples: loss' out.txt) || fail "no summary line"
acc=$(echo "$line" | grep -o 'accuracy [0-9.]*' | cut -d' ' -f2)
awk -v a="$acc" -v b="$logged" 'BEGIN { d = a - b; exit !(d < 1e-4 && d > -1e-4) }' ||
    fail "--eval says accuracy $acc, the run logged $logged"
[ "$(grep -cE '^ +[0-9] +1000 +0\.[0-9]{4}$' out.txt)" -eq 10 ] || fail "no per-class accuracy of 10 classes"
diag=$(sed -n '/^confusion matrix/,$p' out.txt | awk 'NR > 2 && NF == 11 { s += $($1 + 2) } END { print s }')
total=$(sed -n '/^confusion matrix/,$p' out.txt | awk 'NR > 2 && NF == 11 { for (i = 2; i <= 11; i++) s += $i } END { print s }')
[ "$total" -eq 10000 ] || fail "the confusion matrix counts $total samples"
awk -v d="$diag" -v a="$acc" 'BEGIN { x = d / 10000 - a; exit !(x < 1e-4 && x > -1e-4) }' ||
    fail "the confusion matrix's diagonal ($diag) is not the accuracy ($acc)"
h5dump -H pred.h5 | grep -A2 'DATASET "logits"' | grep -q '( 10000, 10 )' || fail "no logits (10000, 10)"
h5dump -H pred.h5 | grep -A2 'DATASET "predicted"' | grep -q '( 10000 )' || fail "no predicted labels"
expect_fail 2 "--predict goes with --eval CHECKPOINT" "$cfg" --predict x.h5
expect_fail 1 "--eval nothere.h5|checkpoint nothere.h5" "$cfg" --eval nothere.h5
echo "eval: all passed"
