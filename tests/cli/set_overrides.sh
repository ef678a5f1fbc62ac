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
# optimizer.schedule_steps: the schedule spans that many steps (here 12, of
# the 8 an epoch of 64 samples at batch 8 makes, 1.5 epochs) and training
# ends there, its last step's lr near min_lr (cosine at 11/12 of the way:
# 1.153e-4 for min_lr 1e-4 and lr 1e-3).
run c.ini --set run.dir=s --set data.train=d --set data.test= --set data.batch_size=8 \
    --set train.log_every=1 --set optimizer.schedule=cosine --set optimizer.min_lr=0.0001 \
    --set optimizer.schedule_steps=12
[ $rc -eq 0 ] || fail "schedule_steps: exit status $rc"
[ "$(grep -c '"step":' s/metrics.jsonl)" -eq 12 ] || fail "schedule_steps=12 did not make 12 steps"
last=$(grep '"step":12,' s/metrics.jsonl | sed 's/.*"lr":\([0-9.e+-]*\).*/\1/')
awk -v lr="$last" 'BEGIN { exit !(lr > 1.15e-4 && lr < 1.16e-4) }' ||
    fail "step 12's lr is $last, not the cosine's 1.153e-4 at 11/12 of 12 steps"
echo "bad_set: all passed"
