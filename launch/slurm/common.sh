# common.sh: what every accel-train batch script does, sourced by the
# templates beside it.
#
# accel_step COMMAND...: runs the job step in the background and passes the
# batch system's warning on to it as SIGUSR1; accel-train then stops at the
# next step boundary, writes a checkpoint and exits with status 3, and this
# function requeues the job (scontrol requeue), whose next run continues
# with --resume auto. Its status is the step's, or 0 once the job is
# requeued (the job did not fail: it goes back to the queue).
#
# What Slurm does, which this relies on (22.05; its source, srun(1),
# scancel(1), sbatch(1)):
# - --signal=B:USR1@300 sends USR1 to this script alone, 300 s (up to a
#   minute more) before the time limit; scancel --batch --signal=USR1 does
#   so at once.
# - srun passes USR1 on to every task, through each node's slurmd
#   separately: the ranks of different nodes get it at different moments,
#   and under load some reach a step boundary with it while others have
#   not had it yet. The ranks agree at every step boundary, so all stop at
#   the same step, whichever got it first, and say which signal it was.
# - srun answers SIGTERM (and SIGHUP, SIGQUIT) by killing its tasks with
#   SIGKILL ("forcing job termination"): a stop is passed to srun as USR1,
#   never as TERM. (mpirun, in single_node_mpirun.sbatch, passes USR1 on
#   too; on TERM it sends the ranks TERM, then SIGKILL a few seconds
#   later: mpirun(1), "Signal Propagation".)
# - A preemption with a GraceTime sends SIGTERM to the tasks themselves
#   (every step but this script's): they stop as on USR1, and the step
#   ends with status 3. (SlurmctldParameters=preempt_send_user_signal
#   sends the job's --signal instead: USR1 to this script.)
# - At the job's end (its time limit reached, scancel without --signal,
#   a grace time over) slurmd sends SIGTERM to every process of the job,
#   srun included, which kills the ranks at once: no checkpoint can be
#   counted on then. The warning ahead of the limit is what buys one.
# - Ranks exit 3 only once rank 0's checkpoint is written (every rank
#   waits for it), so KillOnBadExit=1 (srun -K), which ends a step when a
#   task exits non-zero, cannot cut it short.

accel_step() {
    local pid='' rc stop=''
    # Set before the step starts: bash's default for USR1 and TERM would
    # end this script; one that comes while the step is being started is
    # passed on as soon as there is a step to pass it to.
    trap 'stop=1; echo "accel_step: $(date -u +%FT%TZ): passing the stop signal on (USR1)" >&2
          [ -n "$pid" ] && kill -USR1 $pid 2>/dev/null' USR1 TERM
    "$@" &
    pid=$!
    [ -n "$stop" ] && kill -USR1 $pid 2>/dev/null
    while :; do
        wait $pid
        rc=$?
        # a trapped signal interrupts wait; the step may still be running
        kill -0 $pid 2>/dev/null || break
    done
    trap - USR1 TERM
    if [ $rc -eq 3 ]; then
        echo "accel_step: the step ended with status 3 (stopped early with a checkpoint): requeueing job $SLURM_JOB_ID" >&2
        scontrol requeue "$SLURM_JOB_ID" && return 0
    elif [ $rc -ne 0 ]; then
        echo "accel_step: the step ended with status $rc" >&2
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
