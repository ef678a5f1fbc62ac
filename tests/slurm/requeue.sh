#!/bin/bash
# A real single-node Slurm cluster runs the real batch template
# (launch/slurm/cpu.sbatch): the job is interrupted mid-run the way a time
# limit does it (USR1 to the batch script), stops with a checkpoint, requeues
# itself, resumes, and finishes with a final checkpoint bitwise identical to
# the same training run uninterrupted. The test starts munged (if needed),
# slurmctld and slurmd on this host as root with a generated slurm.conf,
# and stops what it started; where they cannot run it reports SKIPPED.
prog=$1 src=$2 diff=$3
source "$src/tests/cli/lib.sh"
skip() { echo "SKIPPED: $*"; exit 77; }
for cmd in slurmctld slurmd sbatch scontrol munged; do
    command -v $cmd >/dev/null || skip "$cmd is not installed (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "the test cluster runs as root"

started_munge=
cleanup() {
    [ -n "${SLURM_CONF:-}" ] && scontrol shutdown >/dev/null 2>&1
    sleep 1
    [ -f "$work/d.pid" ] && kill "$(cat "$work/d.pid")" 2>/dev/null
    [ -f "$work/ctld.pid" ] && kill "$(cat "$work/ctld.pid")" 2>/dev/null
    [ -n "$started_munge" ] && pkill -x munged
    rm -rf "$work"
}
trap cleanup EXIT

# munge authenticates Slurm's messages
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null
    [ -f /etc/munge/munge.key ] || skip "no /etc/munge/munge.key"
    munged --force 2>munged.err || skip "munged does not start: $(cat munged.err)"
    started_munge=1
    sleep 1
    munge -n | unmunge >/dev/null 2>&1 || skip "munge does not work here"
fi

host=$(hostname)
port=$((20000 + RANDOM % 20000))
mkdir -p state spool
cat >slurm.conf <<CONF
ClusterName=accel-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/ctld.pid
SlurmdPidFile=$work/d.pid
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmctldLogFile=$work/ctld.log
SlurmdLogFile=$work/d.log
MpiDefault=none
JobRequeue=1
ReturnToService=2
MinJobAge=600
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
echo "CgroupPlugin=cgroup/v1" >cgroup.conf
export SLURM_CONF=$work/slurm.conf
slurmctld -f "$SLURM_CONF" 2>ctld.err || skip "slurmctld does not start: $(tail -3 ctld.err)"
slurmd -f "$SLURM_CONF" 2>d.err || skip "slurmd does not start: $(tail -3 d.err)"
for i in $(seq 60); do
    [ "$(sinfo -h -o %t 2>/dev/null)" = "idle" ] && break
    sleep 0.5
done
[ "$(sinfo -h -o %t 2>/dev/null)" = "idle" ] || skip "the test node never became idle: $(tail -3 d.log)"

# The training: about 15 ms a step, 200 steps, a checkpoint every 20.
train=(--set data.batch_size=1024 --set train.max_steps=200 --set data.test=
       --set checkpoint.every_steps=20 --set train.log_every=20)
run "$src/configs/fashion_mlp.ini" "${train[@]}" --set run.dir=ref
[ $rc -eq 0 ] || fail "the reference run: exit $rc"

job=$(sbatch --parsable --ntasks=1 --cpus-per-task="$(nproc)" --chdir="$work" \
    --export="ALL,ACCEL_HOME=$src,ACCEL_TRAIN=$prog" \
    "$src/launch/slurm/cpu.sbatch" "$src/configs/fashion_mlp.ini" "${train[@]}") ||
    fail "sbatch refused the template"
echo "submitted job $job"
dir=runs/fashion_mlp-job$job
state() { scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
for i in $(seq 300); do
    [ -f $dir/checkpoints/ckpt-40.h5 ] && break
    sleep 0.1
done
[ -f $dir/checkpoints/ckpt-40.h5 ] || fail "the job did not start training (state $(state))"
scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 failed"
released=
pending_since=
for i in $(seq 900); do
    st=$(state)
    [ "$st" = COMPLETED ] && break
    case "$st" in FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
    # Slurm holds a requeued batch job back for two minutes (its begin time);
    # once it has settled in the queue (pending a second with the node idle:
    # the first run's step fully gone), let it start now.
    if [ -z "$released" ] && [ "$st" = PENDING ] &&
        scontrol show job "$job" | grep -q "Restarts=1" &&
        [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]; then
        pending_since=${pending_since:-$i}
        if [ $((i - pending_since)) -ge 5 ]; then
            echo "requeued: $(scontrol show job "$job" | grep -o 'Reason=[^ ]*\|StartTime=[^ ]*' | tr '\n' ' ')"
            scontrol update JobId="$job" StartTime=now || fail "cannot release the requeued job"
            released=1
        fi
    else
        pending_since=
    fi
    sleep 0.2
done
log=accel-train-$job.log
cat "$log"
[ "$(state)" = COMPLETED ] || fail "job $job ended $(state)"
scontrol show job "$job" | grep -q "Restarts=1" || fail "the job was not requeued once"
grep -q "stopped by User defined signal 1 at step" "$log" || fail "the job was not stopped by the signal"
grep -q "requeueing job $job" "$log" || fail "the job did not requeue itself"
grep -q "resuming from $dir/checkpoints/ckpt-" "$log" || fail "the requeued job did not resume"
"$diff" ref/checkpoints/ckpt-200.h5 $dir/checkpoints/ckpt-200.h5 0 ||
    fail "the interrupted job's final checkpoint differs from the uninterrupted run's"
echo "slurm requeue: all passed"
