#!/bin/bash
# A real single-node Slurm cluster runs the real batch template
# (launch/slurm/cpu.sbatch): the job is interrupted mid-run the way a time
# limit does it (USR1 to the batch script), stops with a checkpoint, requeues
# itself, resumes, and finishes with a final checkpoint bitwise identical to
# the same training run uninterrupted. The test starts munged (if needed),
# slurmctld and slurmd on this host as root with a generated slurm.conf,
# and stops what it started, however the test ends; where they cannot run
# (not root, not installed, a host name that does not resolve) it reports
# SKIPPED with the reason within seconds.
prog=$1 src=$2 diff=$3
source "$src/tests/cli/lib.sh"
skip() { echo "SKIPPED: $*"; exit 77; }
for cmd in slurmctld slurmd sbatch scontrol munged setpriv; do
    command -v $cmd >/dev/null || skip "$cmd is not installed (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "the test cluster runs as root"

# Every daemon runs in the foreground as a child of this script, so that
# whatever ends the test (its end, a failure, ctest's timeout killing the
# process tree, a signal) ends them too: the trap stops them gracefully,
# and if this script is killed outright the kernel sends them SIGTERM
# (setpriv --pdeathsig). A watchdog ends the test well before ctest's own
# timeout.
daemons=()
job=
cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "${SLURM_CONF:-}" ]; then
        [ -n "$job" ] && scancel "$job" >/dev/null 2>&1
        scontrol shutdown >/dev/null 2>&1
    fi
    [ -n "$job" ] && pkill -f "slurmstepd: \[$job\." 2>/dev/null
    for pid in "${daemons[@]}"; do kill "$pid" 2>/dev/null; done
    for i in $(seq 50); do
        alive=
        for pid in "${daemons[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for pid in "${daemons[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    [ -n "${watchdog:-}" ] && kill "$watchdog" 2>/dev/null
    cd / && rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "FAIL: interrupted"; exit 1' INT TERM HUP
(
    trap 'kill $nap 2>/dev/null; exit 0' TERM
    sleep 240 &
    nap=$!
    wait $nap && echo "FAIL: the test ran past 240 s" && kill -TERM $$
) &
watchdog=$!

# daemon NAME LOG READY-COMMAND ARGS...: starts ARGS... in the background
# and waits (at most 10 s) for READY-COMMAND to succeed; else SKIPPED with
# the end of its output and of LOG.
daemon() {
    local name=$1 log=$2 ready=$3
    shift 3
    setpriv --pdeathsig TERM "$@" >"$name.out" 2>&1 &
    daemons+=($!)
    for i in $(seq 100); do
        eval "$ready" >/dev/null 2>&1 && return 0
        kill -0 "${daemons[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    skip "$name does not start: $(tail -q -n 3 "$name.out" "$log" 2>/dev/null | tr '\n' ' ')"
}

# Slurm's daemons find each other by this host's name.
host=$(hostname)
getent hosts "$host" >/dev/null || skip "this host's name ($host) does not resolve (add it to /etc/hosts)"

# munge authenticates Slurm's messages
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null
    [ -f /etc/munge/munge.key ] || skip "no /etc/munge/munge.key"
    daemon munged /var/log/munge/munged.log "munge -n | unmunge" munged --foreground --force
fi

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
daemon slurmctld ctld.log "scontrol ping | grep -q UP" slurmctld -D -f "$SLURM_CONF"
daemon slurmd d.log "[ \"\$(sinfo -h -o %t)\" = idle ]" slurmd -D -f "$SLURM_CONF"

# The training: about 15 ms a step, 200 steps, a checkpoint every 20.
train=(--set data.batch_size=1024 --set train.max_steps=200 --set data.test=
       --set checkpoint.every_steps=20 --set train.log_every=20 "${PIN[@]}")
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
ckpt_same ref/checkpoints/ckpt-200.h5 $dir/checkpoints/ckpt-200.h5 ||
    fail "the interrupted job's final checkpoint differs from the uninterrupted run's"
echo "slurm requeue: all passed"
