#!/bin/bash
# A real two-node Slurm cluster runs the real multi-node template
# (launch/slurm/multi_node.sbatch) across both nodes, through preemption and
# requeue: srun --mpi=pmix starts two ranks on each node, the job is
# interrupted mid-run (USR1 to the batch script, as a time limit's warning),
# stops with a checkpoint, requeues itself, resumes on both nodes, and its
# final checkpoint is bitwise that of the same training uninterrupted on
# one node of four ranks (the same rank count, one CPU thread a rank).
#
# The nodes are tests/cluster/lib.sh's: UTS namespaces of their own host
# names on this machine. One slurmd runs in each (slurmd -N NAME, entered
# with nsenter), each on its own port, spool directory, pid file, log and
# TmpFS (slurm.conf's %n); both reach slurmctld, which runs outside them,
# and each other at 127.0.0.1. TmpFS is per node because the PMIx plugin
# makes its client directory, spmix_appdir_<uid>_<job>.<step>, under it:
# two nodes on one /tmp collide (File exists) and the step fails.
#
# The template asks for 4 nodes of 8 GPUs and 8 cores a rank; sbatch's
# command line overrides its #SBATCH lines: 2 nodes x 2 ranks, one core a
# rank, --gpus-per-node=0 (this cluster has no GPUs and no GresTypes: a
# job asking for GPUs is refused, "Invalid generic resource (gres)
# specification"). SKIPPED where it cannot run (not root, Slurm, munge or
# Open MPI not installed, no namespaces).
prog=$1 src=$2 diff=$3
source "$src/tests/cli/lib.sh"
source "$src/tests/cluster/lib.sh"
source "$src/tests/slurm/lib.sh"
slurm_require
cluster_start 240 nodea nodeb
trap 'slurm_stop; cluster_cleanup' EXIT
slurm_munge
port=$((20000 + RANDOM % 20000))
nodes=()
for node in nodea nodeb; do
    mkdir -p spool-$node tmp-$node
    nodes+=("NodeName=$node NodeHostname=$node NodeAddr=127.0.0.1 Port=$((port + 1 + ${#nodes[@]})) CPUs=$(nproc) State=UNKNOWN")
done
slurm_conf $port -%n "TmpFS=$work/tmp-%n" "${nodes[@]}"
slurm_start_ctld
for node in nodea nodeb; do
    slurm_daemon slurmd-$node d-$node.log "scontrol show node $node | grep -q State=IDLE" \
        nsenter -t "${cluster_holder[$node]}" --uts slurmd -D -N $node -f "$SLURM_CONF"
done
sinfo -N -h -o "%N %t %c" | tr '\n' ' ' | sed 's/^/nodes: /; s/ $/\n/'

# The ranks of different nodes meet over TCP: on the loopback interface,
# as CLUSTER_MPI has mpirun's (Open MPI leaves it out unless told, and
# would take another interface of this machine). And with four ranks on
# two cores, a rank waiting for the others must yield its core: mpirun
# does so when it knows it oversubscribes, but Slurm's allocation says one
# core a rank, so srun's ranks would spin (all-reduce 65-91 ms a step
# here instead of 8-18).
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_mpi_yield_when_idle=1
job_args=(--nodes=2 --ntasks-per-node=2 --gpus-per-node=0 --cpus-per-task=1)

srun "${job_args[@]}" --mpi=pmix hostname >hosts.txt 2>srun.err
[ "$(sort hosts.txt | tr '\n' ' ')" = "nodea nodea nodeb nodeb " ] ||
    fail "srun --mpi=pmix hostname ran on '$(sort hosts.txt | tr '\n' ' ')', not nodea twice and nodeb twice: $(grep -h 'error' d-node?.log srun.err | head -2 | tr '\n' ' ')"
echo "srun --mpi=pmix hostname: $(sort hosts.txt | tr '\n' ' ')"

# The training: 200 steps of the global batch 1024 (256 a rank), a
# checkpoint every 20.
train=(--set data.batch_size=1024 --set train.max_steps=200 --set data.test=
       --set checkpoint.every_steps=20 --set train.log_every=20 "${PIN[@]}")
mpi 4 "$prog" "$src/configs/fashion_mlp.ini" "${train[@]}" --set run.dir=ref >out.txt 2>err.txt ||
    fail "the reference run (1 node x 4 ranks): exit status $?"
rm out.txt err.txt # fail() shows them: not the reference's once it has passed

slurm_job=$(sbatch --parsable "${job_args[@]}" --chdir="$work" \
    --export="ALL,ACCEL_HOME=$src,ACCEL_TRAIN=$prog" \
    "$src/launch/slurm/multi_node.sbatch" "$src/configs/fashion_mlp.ini" "${train[@]}") ||
    fail "sbatch refused the template"
echo "submitted job $slurm_job"
dir=runs/fashion_mlp-job$slurm_job
slurm_preempt "$slurm_job" $dir/checkpoints/ckpt-40.h5
log=accel-train-$slurm_job.log
[ "$(grep -c '^job .* on nodea: ' "$log")" -eq 2 ] || fail "the batch script did not run twice on nodea"
[ "$(grep -cx 'ranks on 2 nodes: nodea (ranks 0-1), nodeb (ranks 2-3)' "$log")" -eq 2 ] ||
    fail "the two runs' ranks were not on nodea (ranks 0-1) and nodeb (ranks 2-3) both times"
[ "$(grep -c ' 4 ranks$' "$log")" -eq 2 ] || fail "the two runs were not of 4 ranks"
ckpt_same ref/checkpoints/ckpt-200.h5 $dir/checkpoints/ckpt-200.h5 ||
    fail "the interrupted two-node job's final checkpoint differs from the uninterrupted run's"
echo "slurm multi_node: all passed"
