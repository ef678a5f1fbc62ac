#!/bin/bash
# launch/accel-run starts the ranks through mpirun, turns Ctrl-C into a
# clean stop of every rank (status 3, a checkpoint), and returns the job's
# status; --mpi-arg passes mpirun one argument, spaces and all. With
# --max-restarts 1, a rank killed mid-run (SIGKILL, as cli.rank_failure)
# makes it start the job again from the newest checkpoint, which then
# finishes; without, the failure's status is returned; a bad config is not
# restarted. (Hosts lost and restarts on fewer ranks: cluster.node_loss.)
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

# --mpi-arg hands mpirun one argument whole, spaces kept, where --mpi-args
# splits its words; both add to the same options. Seen from the ranks: a
# stand-in for accel-train prints the variables mpirun's -x gave them
# (removed from accel-run's environment, so only -x can put them there).
cat >show_env <<'SH'
#!/bin/sh
printf 'rank %s: FOO=[%s] BAR=[%s]\n' "$OMPI_COMM_WORLD_RANK" "${FOO-unset}" "${BAR-unset}"
SH
chmod +x show_env
env -u FOO -u BAR ACCEL_TRAIN="$PWD/show_env" "$src/launch/accel-run" -n 2 --mpi-args "-x BAR=c" --mpi-arg -x \
    --mpi-arg 'FOO=a  b' "$cfg" >out.txt 2>err.txt || fail "accel-run --mpi-arg: exit $?"
[ "$(grep -c '^rank [01]: FOO=\[a  b\] BAR=\[c\]$' out.txt)" -eq 2 ] ||
    fail "--mpi-arg -x --mpi-arg 'FOO=a  b' did not reach both ranks whole: $(cat out.txt)"
echo "ok: --mpi-arg passes one argument whole: $(head -1 out.txt)"

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

# kill_rank DIR: waits for DIR's 40th step's checkpoint, then kills a rank
# of the run writing DIR (its command line begins with the program, unlike
# accel-run's and mpirun's).
kill_rank() {
    for i in $(seq 200); do
        [ -f "$1/checkpoints/ckpt-40.h5" ] && break
        sleep 0.1
    done
    [ -f "$1/checkpoints/ckpt-40.h5" ] || fail "the job writing $1 did not start"
    victim=$(pgrep -f "^$prog $cfg .*--set run.dir=$1\$" | tail -1)
    [ -n "$victim" ] || fail "no rank to kill"
    kill -9 "$victim"
}
"$src/launch/accel-run" -n 2 --max-restarts 1 "$cfg" "${common[@]}" --set train.max_steps=120 \
    --set run.dir=again \
    >out.txt 2>err.txt &
pid=$!
kill_rank again
wait $pid
status=$?
grep "^accel-run: " err.txt
[ $status -eq 0 ] || fail "--max-restarts 1 after a killed rank: status $status, expected 0"
grep -Eq "^accel-run: the job failed after [0-9]+ s \(status 137\): rank [01] on .* died on signal 9 \(Killed\)$" err.txt ||
    fail "accel-run did not name the rank that died"
grep -q "^accel-run: restart 1 of 1 with 2 ranks, from the newest checkpoint (--resume auto)$" err.txt ||
    fail "accel-run did not say it restarts"
newest=$(sed -n '/^resuming from/q; s/^checkpoint \(.*\)$/\1/p' out.txt | tail -1)
grep -q "^resuming from $newest: " out.txt || fail "the restart did not resume from the newest checkpoint, $newest"
[ -f again/checkpoints/ckpt-120.h5 ] || fail "the restarted job wrote no final checkpoint"
echo "ok: restarted from $newest after a rank was killed"

"$src/launch/accel-run" -n 2 "$cfg" "${common[@]}" --set run.dir=once >out.txt 2>err.txt &
pid=$!
kill_rank once
wait $pid
status=$?
[ $status -eq 137 ] || fail "without --max-restarts, a killed rank: status $status, expected mpirun's 137"
grep -q "restart" err.txt && fail "restarted without --max-restarts"
echo "ok: no restart without --max-restarts (status $status)"

# A job stopped with a checkpoint on request (SIGUSR1 to one rank: every
# rank stops, status 3) is done, not failed.
"$src/launch/accel-run" -n 2 --max-restarts 1 "$cfg" "${common[@]}" --set run.dir=usr1 \
    >out.txt 2>err.txt &
pid=$!
for i in $(seq 200); do
    [ -f usr1/checkpoints/ckpt-40.h5 ] && break
    sleep 0.1
done
rank=$(pgrep -f "^$prog $cfg .*--set run.dir=usr1\$" | tail -1)
[ -n "$rank" ] || fail "no rank to signal"
kill -USR1 "$rank"
wait $pid
status=$?
[ $status -eq 3 ] || fail "--max-restarts 1, a rank sent SIGUSR1: status $status, expected 3"
grep -q "^accel-run: " err.txt && fail "accel-run acted on a requested stop: $(grep '^accel-run: ' err.txt)"
echo "ok: a stop on request (status 3) is not restarted"

"$src/launch/accel-run" -n 2 --max-restarts 2 "$cfg" --set nosuch.key=1 >out.txt 2>err.txt
status=$?
[ $status -eq 1 ] || fail "a bad config with --max-restarts: status $status, expected 1"
grep -q "^accel-run: not restarting: nothing was lost" err.txt ||
    fail "accel-run did not say why it does not restart a bad config"
[ "$(grep -c "^accel-train: error: " err.txt)" -eq 1 ] || fail "the bad config was run more than once"
for bad in "--hosts nodea:0" "--hosts a:1 -n 2" "--max-restarts x" "--hosts ,"; do
    "$src/launch/accel-run" $bad "$cfg" >out.txt 2>err.txt
    [ $? -eq 2 ] || fail "accel-run $bad is not a usage error"
    [ "$(wc -l <err.txt)" -eq 1 ] || fail "accel-run $bad: not one line: $(cat err.txt)"
done
echo "accel_run: all passed"
