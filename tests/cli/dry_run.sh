#!/bin/bash
# --dry-run builds the model and prints its summary and the configuration in
# force, writes nothing, and the printed configuration reads back as the
# same model.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
run "$src/configs/fashion_cnn.ini" --dry-run --set conv1.filters=16
[ $rc -eq 0 ] || fail "--dry-run: exit $rc"
grep -Eq '^conv1 +conv2d +\(16, 28, 28\) +144 +238336$' out.txt || fail "no conv1 row with 16 filters"
grep -Eq '^pool2 +maxpool +\(64, 7, 7\) +0 ' out.txt || fail "no pool2 row"
grep -q '^total: 412346 parameters (160 kept statistics)' out.txt || fail "wrong totals"
# forward and backward: twice the forward (4,794,634), plus the input
# gradients of the layers with weights but the first (conv2 3,612,672, fc
# 802,816, logits 2,560): 14,007,316
grep -q '^total: 412346 parameters (160 kept statistics); 4.79e+06 FLOPs a sample forward, 1.4e+07 forward and backward$' out.txt ||
    fail "wrong FLOPs"
grep -q "^memory of one rank at 128 rows a step (1000 for evaluation): parameters 1.6 MiB" out.txt || fail "no memory line"
grep -q '^filters = 16$' out.txt || fail "the configuration in force lacks the --set override"
[ ! -e runs ] || fail "--dry-run wrote a run directory"
sed -n '/^; the configuration in force/,$p' out.txt >resolved.ini
head -13 out.txt >table1.txt # the table, totals and memory
run resolved.ini --dry-run
[ $rc -eq 0 ] || fail "the printed configuration does not load: $(cat err.txt)"
head -13 out.txt | cmp -s - table1.txt || fail "the printed configuration is another model"
expect_fail 1 "--set conv1.filters=0: expected an integer in \\[1, 65536\\], got '0'" "$src/configs/fashion_cnn.ini" \
    --dry-run --set conv1.filters=0
# GPT-2 small (configs/gpt2_124m.ini, which reads token shards): cli.gpt2_124m
echo "dry_run: all passed"
