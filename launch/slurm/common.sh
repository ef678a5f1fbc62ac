# common.sh: what every accel-train batch script does, sourced by the
# templates beside it.
#
# accel_step COMMAND...: runs the job step in the background and passes the
# batch system's warnings on to it: Slurm sends SIGUSR1 to this script
# (--signal=B:USR1@<seconds>) before the time limit, and SIGTERM when the
# job is preempted; accel-train then stops at the next step boundary, writes
# a checkpoint and exits with status 3, and this function requeues the job
# (scontrol requeue), whose next run continues with --resume auto. Its
# status is the step's, or 0 once the job is requeued (the job did not fail:
# it goes back to the queue).

accel_step() {
    "$@" &
    local pid=$! rc
    trap 'echo "accel_step: $(date -u +%FT%TZ): passing the stop signal on" >&2; kill -USR1 $pid 2>/dev/null' USR1 TERM
    while :; do
        wait $pid
        rc=$?
        # a trapped signal interrupts wait; the step may still be running
        kill -0 $pid 2>/dev/null || break
    done
    trap - USR1 TERM
    if [ $rc -eq 3 ]; then
        echo "accel_step: stopped early with a checkpoint: requeueing job $SLURM_JOB_ID" >&2
        scontrol requeue "$SLURM_JOB_ID" && return 0
    fi
    return $rc
}

# Where the program is: ACCEL_TRAIN, or build/accel-train under ACCEL_HOME
# (by default the directory sbatch was run from, the repository root).
ACCEL_HOME=${ACCEL_HOME:-$SLURM_SUBMIT_DIR}
ACCEL_TRAIN=${ACCEL_TRAIN:-$ACCEL_HOME/build/accel-train}
if [ ! -x "$ACCEL_TRAIN" ]; then
    echo "accel-train is not at $ACCEL_TRAIN: build it, or set ACCEL_TRAIN or ACCEL_HOME" >&2
    exit 1
fi
echo "job $SLURM_JOB_ID (restart ${SLURM_RESTART_COUNT:-0}) on $(hostname): $ACCEL_TRAIN $CONFIG $*" >&2
