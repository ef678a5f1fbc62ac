# A real Slurm cluster on this machine, for the tests only: munged,
# slurmctld and one or more slurmd, as root, with a slurm.conf generated in
# the test's directory. Source it after
# tests/cli/lib.sh (which makes and enters $work).
#
# Every daemon runs in the foreground as a child of the test, so that
# whatever ends the test (its end, a failure, ctest's timeout killing the
# process tree, a signal) ends them too: slurm_stop (from the test's EXIT
# trap) stops them gracefully, and if the test is killed outright the kernel
# sends them SIGTERM (setpriv --pdeathsig). Where they cannot run (not root,
# not installed, a host name that does not resolve) the test reports
# SKIPPED with the reason within seconds.

skip() {
    echo "SKIPPED: $*"
    exit 77
}

slurm_daemons=() # pids of the daemons this test started
slurm_job=       # the test's job, cancelled by slurm_stop

# slurm_require: SKIPPED unless Slurm and munge are installed and this is root.
slurm_require() {
    local cmd
    for cmd in slurmctld slurmd sbatch scontrol scancel sinfo munged setpriv; do
        command -v $cmd >/dev/null || skip "$cmd is not installed (apt-get install slurm-wlm munge)"
    done
    [ "$(id -u)" -eq 0 ] || skip "the test cluster runs as root"
    # slurmctld and its clients find it by this host's name
    getent hosts "$(hostname)" >/dev/null ||
        skip "this host's name ($(hostname)) does not resolve (add it to /etc/hosts)"
}

# slurm_pids CONF: every process of the cluster whose slurm.conf is CONF,
# by the SLURM_CONF=CONF in its environment: slurm_conf exports it before
# any Slurm daemon starts, slurmd passes it on to its slurmstepd, and
# sbatch --export=ALL to the job's batch script and ranks. (The test's own
# shell keeps the environment it started with.) Another test's cluster has
# another CONF, though its job ids are the same.
slurm_pids() {
    SLURM_CONF= grep -lszxF "SLURM_CONF=$1" /proc/[0-9]*/environ | cut -d/ -f3
}

# slurm_stop: cancels the test's job and stops the daemons gracefully, then
# (after 5 s) sends SIGKILL to whatever of the cluster is left: daemons,
# slurmstepd (which outlive slurmd), batch script, ranks.
slurm_stop() {
    local pid i alive
    [ -n "${slurm_guard:-}" ] && kill -KILL "$slurm_guard" 2>/dev/null
    if [ -n "${SLURM_CONF:-}" ]; then
        [ -n "$slurm_job" ] && scancel "$slurm_job" >/dev/null 2>&1
        scontrol shutdown >/dev/null 2>&1
    fi
    for pid in "${slurm_daemons[@]}"; do kill "$pid" 2>/dev/null; done
    for i in $(seq 50); do
        alive=
        for pid in "${slurm_daemons[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ -n "${SLURM_CONF:-}" ] && [ -n "$(slurm_pids "$SLURM_CONF")" ] && alive=1
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for pid in "${slurm_daemons[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    [ -n "${SLURM_CONF:-}" ] && kill -KILL $(slurm_pids "$SLURM_CONF") 2>/dev/null
}

# slurm_start_guard: a process that, if the test is killed outright (no
# EXIT trap), sends SIGKILL to what is left of the cluster: the daemons get
# SIGTERM from the kernel then, but not a job's slurmstepd and ranks, which
# slurmd started as daemons of their own. Its own environment does not
# name the cluster's slurm.conf.
slurm_start_guard() {
    SLURM_CONF= setpriv --pdeathsig TERM bash -c "$(declare -f slurm_pids)
        trap 'kill -KILL \$(slurm_pids \"\$1\") 2>/dev/null; exit 0' TERM
        while :; do sleep 1; done" slurm-guard "$SLURM_CONF" &
    slurm_guard=$!
    disown "$slurm_guard" # its end is slurm_stop's business, not worth a line from bash
}

# slurm_start_watchdog SECONDS: the EXIT trap stops the daemons and removes
# $work, and a watchdog fails the test after SECONDS, well before ctest's
# own timeout (which would kill the script without its trap). For tests
# that do not start tests/cluster/lib.sh's nodes, which have their own.
slurm_start_watchdog() {
    local limit=$1
    trap slurm_cleanup EXIT
    trap 'echo "FAIL: interrupted"; exit 1' INT TERM HUP
    start_watchdog "$limit"
    slurm_watchdog=$watchdog_pid
}

slurm_cleanup() {
    trap - EXIT INT TERM HUP
    slurm_stop
    [ -n "${slurm_watchdog:-}" ] && kill "$slurm_watchdog" 2>/dev/null
    cd / && rm -rf "$work"
}

# slurm_daemon NAME LOG READY-COMMAND ARGS...: starts ARGS... in the
# background (output in NAME.out) and waits (at most 10 s) for READY-COMMAND
# to succeed; else SKIPPED with the end of its output and of LOG.
slurm_daemon() {
    local name=$1 log=$2 ready=$3 i
    shift 3
    setpriv --pdeathsig TERM "$@" >"$name.out" 2>&1 &
    slurm_daemons+=($!)
    for i in $(seq 100); do
        eval "$ready" >/dev/null 2>&1 && return 0
        kill -0 "${slurm_daemons[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    skip "$name does not start: $(tail -q -n 3 "$name.out" "$log" 2>/dev/null | tr '\n' ' ')"
}

# slurm_munge: munged of the test's own (it authenticates Slurm's
# messages), on a socket in $work that slurm.conf names (AuthInfo): a
# munged that another test started, and stops, is none of this test's
# business.
slurm_munge() {
    [ -r /etc/munge/munge.key ] || skip "no /etc/munge/munge.key"
    mkdir -p munge
    slurm_daemon munged munge/log "munge -S $work/munge/socket -n | unmunge -S $work/munge/socket" \
        munged --foreground --force --socket="$work/munge/socket" --pid-file="$work/munge/pid" \
        --seed-file="$work/munge/seed" --log-file="$work/munge/log"
}

# slurm_conf PORT TAG LINE...: writes $work/slurm.conf (and exports
# SLURM_CONF) for slurmctld on this host at PORT, with the LINEs (the
# nodes, and any other setting) and one partition of all the nodes, and
# starts the guard. Each slurmd's spool directory, pid file and log are
# named with TAG ("" for one slurmd; "-%n", the node's name, for several);
# the nodes' default port is PORT + 1.
slurm_conf() {
    local port=$1 tag=$2 line
    shift 2
    mkdir -p state
    {
        cat <<CONF
ClusterName=accel-test
SlurmctldHost=$(hostname)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge/socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool$tag
SlurmctldPidFile=$work/ctld.pid
SlurmdPidFile=$work/d$tag.pid
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmctldLogFile=$work/ctld.log
SlurmdLogFile=$work/d$tag.log
MpiDefault=none
JobRequeue=1
ReturnToService=2
MinJobAge=600
CONF
        for line in "$@"; do echo "$line"; done
        echo "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    } >slurm.conf
    echo "CgroupPlugin=cgroup/v1" >cgroup.conf
    export SLURM_CONF=$work/slurm.conf
    # The ranks of a node share memory through files of Open MPI's vader
    # BTL, /dev/shm/vader_segment.<node>.<uid>.<jobid>.<local rank> by
    # default, and under srun the jobid is a hash of the PMIx namespace,
    # slurm.pmix.<job>.<step>: the same in every run of a test (its job 2,
    # step 0: vader_segment.nodeb.0.8dc24f0b.0 each time), and a run beside
    # another one's, or after one killed before it could remove them, meets
    # its files. (Likely what killed a rank on nodeb in start-up once in 27
    # runs beside CPU hogs: "open(2): No such file or directory" in shared
    # memory set-up, then SIGSEGV.) In the test's own directory they are
    # its own; sbatch --export=ALL hands the setting to the ranks.
    export OMPI_MCA_btl_vader_backing_directory=$work
    slurm_start_guard
}

# slurm_start_ctld: slurmctld, once it answers.
slurm_start_ctld() {
    slurm_daemon slurmctld ctld.log "scontrol ping | grep -q UP" slurmctld -D -f "$SLURM_CONF"
}

# slurm_idle: every node of the cluster is idle.
slurm_idle() {
    [ "$(sinfo -h -o %t 2>/dev/null)" = idle ]
}

# slurm_state JOB: the job's state (RUNNING, PENDING, COMPLETED...).
slurm_state() {
    scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2
}

# slurm_preempt JOB CHECKPOINT: once the job has written CHECKPOINT, sends
# USR1 to its batch script (as a time limit's warning does) and waits for
# the job to end; the template stops the step with a checkpoint and
# requeues the job, which is released as soon as it has settled in the
# queue. Prints the job's log (accel-train-JOB.log) and fails unless the job
# stopped once, at a step boundary past CHECKPOINT's step with a
# checkpoint of that step, its step ended with status 3, it requeued itself
# once, the requeued run resumed from that very checkpoint, and the job
# completed. Which signal the ranks name is printed, not checked: the
# script passes USR1 on, and srun gives it to each node's ranks separately
# (launch/slurm/common.sh); what the job must do with it is the above.
slurm_preempt() {
    local job=$1 ckpt=$2 i st released= pending_since= log=accel-train-$1.log
    for i in $(seq 600); do
        [ -f "$ckpt" ] && break
        [ $((i % 50)) -eq 0 ] && case "$(slurm_state "$job")" in
            FAILED | CANCELLED | COMPLETED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;;
        esac
        sleep 0.1
    done
    [ -f "$ckpt" ] || { cat "$log" 2>/dev/null; fail "the job did not reach $ckpt (state $(slurm_state "$job"))"; }
    scancel --signal=USR1 --batch "$job" || fail "scancel --signal=USR1 failed"
    for i in $(seq 1500); do
        st=$(slurm_state "$job")
        [ "$st" = COMPLETED ] && break
        case "$st" in FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) break ;; esac
        # Slurm holds a requeued batch job back for two minutes (its begin
        # time); once it has settled in the queue (pending a second with the
        # nodes idle: the first run's steps fully gone), let it start now.
        if [ -z "$released" ] && [ "$st" = PENDING ] &&
            scontrol show job "$job" | grep -q "Restarts=1" && slurm_idle; then
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
    cat "$log"
    [ "$(slurm_state "$job")" = COMPLETED ] || fail "job $job ended $(slurm_state "$job")"
    scontrol show job "$job" | grep -q "Restarts=1" || fail "the job was not requeued once"
    local stop='^stopped by \(.*\) at step \([0-9]*\); continue with --resume auto$' step first
    [ "$(grep -c "$stop" "$log")" -eq 1 ] || fail "the job did not stop early once: $(grep -c "$stop" "$log") stops"
    step=$(sed -n "s/$stop/\2/p" "$log")
    echo "the job stopped at step $step, by $(sed -n "s/$stop/\1/p" "$log") (as rank 0 names it)"
    first=$(basename "$ckpt" .h5) && first=${first#ckpt-}
    [ "$step" -ge "$first" ] || fail "the job stopped at step $step, before its $ckpt"
    grep -qx "checkpoint ${ckpt%/*}/ckpt-$step.h5" "$log" || fail "no checkpoint at step $step, where the job stopped"
    grep -q "^accel_step: the step ended with status 3 (stopped early with a checkpoint): requeueing job $job$" "$log" ||
        fail "the step did not end with status 3 and requeue the job"
    grep -q "^resuming from ${ckpt%/*}/ckpt-$step.h5: step $step " "$log" ||
        fail "the requeued job did not resume from ckpt-$step.h5, where it stopped"
}
