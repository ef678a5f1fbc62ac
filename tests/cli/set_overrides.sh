#!/bin/bash
# --set reaches every key, file or not, and later --set wins.
prog=$1
source "$(dirname "$0")/lib.sh"
write_config c.ini
write_idx_images d-images-idx3-ubyte 64 28 28
write_idx_labels d-labels-idx1-ubyte 64
run c.ini --set run.dir=o --set data.train=d --set data.test= --set data.batch_size=8 \
    --set train.max_steps=5 --set train.max_steps=3 --set train.log_every=1 --set layer0.units=7
[ $rc -eq 0 ] || fail "exit status $rc"
[ "$(grep -c '"step":' o/metrics.jsonl)" -eq 3 ] || fail "the later --set train.max_steps=3 did not win"
grep -q "model 784-7-10" out.txt || fail "--set layer0.units=7 did not apply"
echo "bad_set: all passed"
