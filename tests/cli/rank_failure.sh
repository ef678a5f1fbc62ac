#!/bin/bash
# A rank killed with SIGKILL mid-run ends the whole job with a non-zero exit
# within 30 s, never a hang; the newest checkpoint still loads. Its run.dir
# is its name: pgrep finds the ranks by their command line, which must not
# match another test's run of the same program (cli.kill_writer's, under
# ctest -j).
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
write_resume_config c.ini
mpi 4 "$prog" c.ini --set run.dir=rank_failure --set train.epochs=1000 --set checkpoint.every_steps=5 \
    >out.txt 2>err.txt &
job=$!
# wait for training to be under way
for i in $(seq 300); do
    [ -f rank_failure/checkpoints/ckpt-10.h5 ] && break
    sleep 0.2
done
[ -f rank_failure/checkpoints/ckpt-10.h5 ] || { kill -9 $job; fail "the job did not start"; }
victim=$(pgrep -f "^$prog c.ini --set run.dir=rank_failure" | tail -1) # a rank, not mpirun
[ -n "$victim" ] || fail "no rank to kill"
kill -9 "$victim"
start=$(date +%s)
for i in $(seq 300); do
    kill -0 $job 2>/dev/null || break
    sleep 0.1
done
if kill -0 $job 2>/dev/null; then
    pkill -9 -f "$prog c.ini --set run.dir=rank_failure"
    fail "the job still runs 30 s after a rank was killed"
fi
wait $job
status=$?
echo "job ended with status $status after $(($(date +%s) - start)) s"
[ $status -ne 0 ] || fail "the job exited 0 after losing a rank"
newest=$(ls rank_failure/checkpoints | sort -t- -k2 -n | tail -1)
run c.ini --set run.dir=rank_failure --set train.epochs=1000 --set train.max_steps=0 --resume auto
[ $rc -eq 0 ] || fail "the newest checkpoint $newest does not load"
grep -q "resuming from rank_failure/checkpoints/$newest" out.txt || fail "did not resume from $newest"
echo "rank_failure: all passed"
