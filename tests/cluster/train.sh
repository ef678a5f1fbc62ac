#!/bin/bash
# Two nodes of two ranks train to the checkpoint one node of four ranks
# trains, up to the order of float additions (ckpt_close, as
# cli.mpi_ranks): the ranks' gradients meet over TCP between the nodes and
# through shared memory within each. The checkpoints go to a directory of
# this machine, which both nodes see (the nodes share its file system, as
# a cluster's nodes share one).
prog=$1 src=$2 diff=$3
source "$src/tests/cli/lib.sh"
source "$src/tests/cluster/lib.sh"
cluster_start 240 nodea nodeb
cfg="$src/configs/fashion_mlp.ini"
common=(--set train.max_steps=60 --set train.log_every=20 "${PIN[@]}")
mpi 4 "$prog" "$cfg" "${common[@]}" --set run.dir=one >out.txt 2>err.txt ||
    fail "1 node x 4 ranks: exit status $?"
start=$(date +%s)
mpirun "${CLUSTER_MPI[@]}" --host nodea:2,nodeb:2 -np 4 "$prog" "$cfg" "${common[@]}" \
    --set run.dir="$work/two" >out.txt 2>err.txt || fail "2 nodes x 2 ranks: exit status $?"
echo "2 nodes x 2 ranks: 60 steps in $(($(date +%s) - start)) s"
grep -q "ranks on 2 nodes: nodea (ranks 0-1), nodeb (ranks 2-3)" out.txt || fail "not on 2 nodes"
[ -f two/checkpoints/ckpt-60.h5 ] || fail "2 nodes x 2 ranks: no checkpoint"
ckpt_close one/checkpoints/ckpt-60.h5 two/checkpoints/ckpt-60.h5 ||
    fail "2 nodes x 2 ranks differ from 1 node x 4 ranks"
echo "cluster train: all passed"
