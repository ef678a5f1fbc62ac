#!/bin/bash
# A real single-node Slurm cluster runs the real batch template
# (launch/slurm/cpu.sbatch): the job is interrupted mid-run the way a time
# limit does it (USR1 to the batch script), stops with a checkpoint, requeues
# itself, resumes, and finishes with a final checkpoint bitwise identical to
# the same training run uninterrupted. The test starts munged (if needed),
# slurmctld and slurmd on this host as root with a generated slurm.conf
# (tests/slurm/lib.sh), and stops what it started, however the test ends;
# where they cannot run (not root, not installed, a host name that does not
# resolve) it reports SKIPPED with the reason within seconds.
prog=$1 src=$2 diff=$3
source "$src/tests/cli/lib.sh"
source "$src/tests/slurm/lib.sh"
slurm_require
slurm_start_watchdog 240
slurm_munge
port=$((20000 + RANDOM % 20000))
host=$(hostname)
mkdir -p spool
slurm_conf $port "" "NodeName=$host CPUs=$(nproc) State=UNKNOWN"
slurm_start_ctld
slurm_daemon slurmd d.log slurm_idle slurmd -D -f "$SLURM_CONF"

# The training: about 15 ms a step, 200 steps, a checkpoint every 20.
train=(--set data.batch_size=1024 --set train.max_steps=200 --set data.test=
       --set checkpoint.every_steps=20 --set train.log_every=20 "${PIN[@]}")
run "$src/configs/fashion_mlp.ini" "${train[@]}" --set run.dir=ref
[ $rc -eq 0 ] || fail "the reference run: exit $rc"
rm out.txt err.txt # fail() shows them: not the reference's once it has passed

slurm_job=$(sbatch --parsable --ntasks=1 --cpus-per-task="$(nproc)" --chdir="$work" \
    --export="ALL,ACCEL_HOME=$src,ACCEL_TRAIN=$prog" \
    "$src/launch/slurm/cpu.sbatch" "$src/configs/fashion_mlp.ini" "${train[@]}") ||
    fail "sbatch refused the template"
echo "submitted job $slurm_job"
dir=runs/fashion_mlp-job$slurm_job
slurm_preempt "$slurm_job" $dir/checkpoints/ckpt-40.h5
ckpt_same ref/checkpoints/ckpt-200.h5 $dir/checkpoints/ckpt-200.h5 ||
    fail "the interrupted job's final checkpoint differs from the uninterrupted run's"
echo "slurm requeue: all passed"
