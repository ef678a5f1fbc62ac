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
# Without its data, every shipped config is still described: the same
# table and totals where the data is here to compare with, the memory plan,
# and one note saying the data was not read and why. A fault of the config
# itself still fails.
for cfg in "$src"/configs/*.ini; do
    name=$(basename "$cfg" .ini)
    missing=(--set data.train=missing/train)
    grep -q '^format *= *text' "$cfg" || missing+=(--set data.test=missing/test)
    run "$cfg" --dry-run "${missing[@]}"
    [ $rc -eq 0 ] || fail "$name without its data: exit $rc: $(cat err.txt)"
    grep -q '^memory of one rank at ' out.txt || fail "$name without its data: no memory line"
    grep -q '^data: not read (data.train.*missing/train.*); described from the config' out.txt ||
        fail "$name without its data: no note of the data's state: $(grep '^data' out.txt)"
    sed -n '1,/^total: /p' out.txt >nodata.txt
    if run "$cfg" --dry-run && grep -q '^data: .*, read$' out.txt; then
        sed -n '1,/^total: /p' out.txt | cmp -s - nodata.txt ||
            fail "$name: another model without its data: $(diff nodata.txt <(sed -n '1,/^total: /p' out.txt))"
        echo "ok: $name without its data: $(grep '^total' nodata.txt | cut -d';' -f1), as with it"
    else
        echo "ok: $name without its data: $(grep '^total' nodata.txt | cut -d';' -f1) (its data is not here)"
    fi
done
grep -q '^total: 124439808 parameters' <("$prog" "$src/configs/gpt2_124m.ini" --dry-run --set data.train=missing/train) ||
    fail "gpt2_124m without its shards is not 124,439,808 parameters"
expect_fail 1 "data.format = hdf5 keeps its samples' shape in the file: set data.shape = C,H,W" \
    "$src/configs/fashion_mlp.ini" --dry-run --set data.format=hdf5 --set data.train=missing.h5
expect_fail 1 "data.format = text takes its validation split from the end of data.train" \
    "$src/configs/fortunes_gpt.ini" --dry-run --set data.test=missing/test --set data.train=missing/train
# GPT-2 small (configs/gpt2_124m.ini, which reads token shards): cli.gpt2_124m
echo "dry_run: all passed"
