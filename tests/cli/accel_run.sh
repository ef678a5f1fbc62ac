#!/bin/bash
# launch/accel-run starts the ranks through mpirun, turns Ctrl-C into a
# clean stop of every rank (status 3, a checkpoint), and returns the job's
# status.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
export ACCEL_TRAIN=$prog
cfg="$src/configs/fashion_mlp.ini"
common=(--set data.batch_size=1024 --set train.max_steps=300 --set data.test=
        --set checkpoint.every_steps=20 --set train.log_every=20)
"$src/launch/accel-run" -n 2 "$cfg" "${common[@]}" --set train.max_steps=20 --set run.dir=ok \
    >out.txt 2>err.txt || fail "accel-run -n 2: exit $?"
grep -q "2 ranks" out.txt || fail "accel-run -n 2 did not start 2 ranks"
"$src/launch/accel-run" -n 2 "$cfg" --set nosuch.key=1 >out.txt 2>err.txt
status=$?
[ $status -eq 1 ] || fail "a bad config through accel-run: status $status, expected 1"
"$src/launch/accel-run" -n x "$cfg" >out.txt 2>err.txt
[ $? -eq 2 ] || fail "accel-run -n x is not a usage error"

# A script's background job ignores SIGINT unless job control is on, as it
# is in an interactive shell, where a person presses Ctrl-C.
set -m
"$src/launch/accel-run" -n 2 "$cfg" "${common[@]}" --set run.dir=int >out.txt 2>err.txt &
pid=$!
set +m
for i in $(seq 200); do
    [ -f int/checkpoints/ckpt-40.h5 ] && break
    sleep 0.1
done
[ -f int/checkpoints/ckpt-40.h5 ] || fail "the job did not start"
kill -INT $pid
wait $pid
status=$?
[ $status -eq 3 ] || fail "Ctrl-C: status $status, expected 3"
grep -q "stopped by User defined signal 1 at step" out.txt || fail "the ranks were not stopped cleanly"
grep -q "accel-run: stopping at the next step" err.txt || fail "accel-run did not say what it does"
echo "accel_run: all passed"
