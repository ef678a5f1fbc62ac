#!/bin/bash
# A node lost mid-run. launch/accel-run trains on 2 nodes x 2 ranks
# (--hosts nodea:2,nodeb:2, the test cluster's mpirun options through
# --mpi-args) with --max-restarts 1, a checkpoint every 5 steps; every
# process of nodeb (Open MPI's daemon, ranks 2 and 3, the node's holder) is
# killed with SIGKILL, as a node losing power. The job ends within 30 s,
# non-zero; accel-run names the lost node and its ranks, finds that nodeb
# no longer answers, and restarts on nodea's 2 ranks alone from the newest
# checkpoint (the global batch of 1024 is 512 a rank there), which runs to
# the end: exit 0, a final checkpoint. Then a restart whose ranks would not
# divide the global batch (nodec:3,noded:1 losing noded: 1024 over 3) is
# refused in one line, with the failure's status.
prog=$1 src=$2 diff=$3
source "$src/tests/cli/lib.sh"
source "$src/tests/cluster/lib.sh"
cluster_start 270 nodea nodeb
export ACCEL_TRAIN=$prog
write_resume_config c.ini
train=(c.ini --set train.max_steps=150 --set checkpoint.every_steps=5 --set checkpoint.keep=100)

# start_job DIR HOSTS: accel-run in the background ($job), its output in
# DIR.out and DIR.err; returns once DIR has its 10th step's checkpoint.
start_job() {
    "$src/launch/accel-run" --hosts "$2" --mpi-args "${CLUSTER_MPI[*]}" --max-restarts 1 \
        "${train[@]}" --set run.dir="$1" >"$1.out" 2>"$1.err" &
    job=$!
    cluster_track $job
    for i in $(seq 300); do
        [ -f "$1/checkpoints/ckpt-10.h5" ] && return
        kill -0 $job 2>/dev/null || break
        sleep 0.2
    done
    cat "$1.err"
    fail "the job on $2 did not start training"
}

# wait_job SECONDS: waits for $job at most SECONDS; sets $status.
wait_job() {
    for i in $(seq $(($1 * 10))); do
        kill -0 $job 2>/dev/null || break
        sleep 0.1
    done
    kill -0 $job 2>/dev/null && fail "accel-run still runs after $1 s"
    wait $job
    status=$?
}

start_job nl nodea:2,nodeb:2
grep -q "^ranks on 2 nodes: nodea (ranks 0-1), nodeb (ranks 2-3)$" nl.out || fail "not on 2 nodes"
echo "killed on nodeb: $(cluster_kill_node nodeb)"
killed=$SECONDS
for i in $(seq 300); do
    grep -q "accel-run: the job failed" nl.err && break
    sleep 0.1
done
grep -q "accel-run: the job failed" nl.err || fail "no failure told 30 s after nodeb was lost"
echo "the failure was told $((SECONDS - killed)) s after nodeb was lost"
wait_job 150
grep "^accel-run: " nl.err
[ $status -eq 0 ] || { cat nl.err; fail "accel-run ended $status after the restart, expected 0"; }
grep -Eq "^accel-run: the job failed after [0-9]+ s \(status [1-9][0-9]*\): lost node nodeb \(ranks 2, 3\)$" nl.err ||
    fail "accel-run did not name the lost node and ranks"
grep -q "^accel-run: restart 1 of 1 on nodea:2 (2 ranks), from the newest checkpoint" nl.err ||
    fail "the restart was not on nodea's 2 ranks"
# the newest checkpoint the first job wrote, and where the restart began
newest=$(sed -n '/^resuming from/q; s/^checkpoint \(.*\)$/\1/p' nl.out | tail -1)
grep -q "^resuming from $newest: " nl.out || fail "the restart did not resume from $newest"
[ "$(grep -o 'OpenBLAS, 1 thread), [0-9]* ranks$' nl.out | cut -d' ' -f4 | tr '\n' ' ')" = "4 2 " ] ||
    fail "not 4 ranks, then 2 after the restart"
[ "$(grep -c '^ranks on ' nl.out)" -eq 1 ] || fail "the restart ran on more than one node"
[ -f nl/checkpoints/ckpt-150.h5 ] || fail "no final checkpoint"
echo "ok: restarted from $newest on nodea alone, finished at step 150"

# 3 + 1 ranks: losing the 1 leaves 3, over which 1024 does not divide.
cluster_node nodec
cluster_node noded
start_job nd nodec:3,noded:1
cluster_kill_node noded >/dev/null
wait_job 60
grep "^accel-run: " nd.err
[ $status -ne 0 ] || fail "a refused restart exited 0"
grep -q "^accel-run: not restarting on nodec:3 (3 ranks): data.batch_size = 1024 (the global batch) does not divide over 3 ranks x train.grad_accum = 1$" nd.err ||
    fail "the restart over 3 ranks was not refused in one line"
[ "$(grep -c "accel-train 0.1.0: model" nd.out)" -eq 1 ] || fail "the job was started again"
echo "cluster node_loss: all passed"
