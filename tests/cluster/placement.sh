#!/bin/bash
# Two nodes of two ranks each (tests/cluster/lib.sh): Open MPI puts ranks
# 0-1 on nodea and 2-3 on nodeb; accel-train's rank 0 says so in one line,
# and every rank's local rank (what picks its GPU) is 0 or 1 on its node,
# as the launcher's OMPI_COMM_WORLD_LOCAL_RANK says. A one-node job prints
# no such line.
prog=$1 src=$2 diff=$3
source "$src/tests/cli/lib.sh"
source "$src/tests/cluster/lib.sh"
cluster_start 150 nodea nodeb

# Each rank notes what the launcher told it, then becomes accel-train.
cat >rank.sh <<'SH'
#!/bin/sh
echo "$(hostname) $OMPI_COMM_WORLD_RANK $OMPI_COMM_WORLD_LOCAL_RANK" >"launcher.$OMPI_COMM_WORLD_RANK"
exec "$@"
SH
chmod +x rank.sh
mpirun "${CLUSTER_MPI[@]}" --host nodea:2,nodeb:2 -np 4 ./rank.sh "$prog" \
    "$src/configs/fashion_mlp.ini" --set train.max_steps=5 --set data.test= "${PIN[@]}" \
    --set run.dir=two >out.txt 2>err.txt || fail "2 nodes x 2 ranks: exit status $?"
cat out.txt
[ "$(grep -c '^ranks on ' out.txt)" -eq 1 ] || fail "not one placement line"
grep -qx "ranks on 2 nodes: nodea (ranks 0-1), nodeb (ranks 2-3)" out.txt ||
    fail "the placement line is not 'ranks on 2 nodes: nodea (ranks 0-1), nodeb (ranks 2-3)'"
for r in 0 1 2 3; do
    node=nodea; [ $r -ge 2 ] && node=nodeb
    read -r host grank local <"launcher.$r" || fail "rank $r left no launcher note"
    [ "$host $grank" = "$node $r" ] || fail "rank $r ran on $host, expected $node"
    [ "$local" -eq $((r % 2)) ] || fail "Open MPI gave rank $r local rank $local, expected $((r % 2))"
    grep -q "^rank $r (local $local) on $node: cpu (OpenBLAS, 1 thread)$" out.txt ||
        fail "accel-train's line for rank $r does not say local $local on $node"
done
echo "ok: local ranks 0,1 on each node, as OMPI_COMM_WORLD_LOCAL_RANK says"
# A rank takes GPU local_rank % visible GPUs (kernels/cuda/backend_cuda.c).
# This machine has no GPU: the choice made from these local ranks (GPUs 0
# and 1 on each node) is not exercised here, only the local ranks.
echo "note: no GPU here: the GPU choice itself (local_rank % GPUs) is not checked"

mpirun "${CLUSTER_MPI[@]}" --host nodea:2 -np 2 "$prog" "$src/configs/fashion_mlp.ini" \
    --set train.max_steps=2 --set data.test= "${PIN[@]}" --set run.dir=one >out.txt 2>err.txt ||
    fail "1 node x 2 ranks: exit status $?"
grep -q "2 ranks" out.txt || fail "1 node x 2 ranks did not start"
! grep -q "^ranks on \|^rank [0-9]* (local" out.txt || fail "a one-node CPU job told its placement"
echo "cluster placement: all passed"
