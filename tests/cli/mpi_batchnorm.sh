#!/bin/bash
# Synchronized batch norm keeps data parallelism exact: a CNN with batch norm
# (configs/fashion_cnn.ini, narrowed for speed) trained 60 steps on 1 rank
# and on 4 ranks ends with every parameter, Adam moment and running
# statistic equal but for the order of float additions (ckpt_close).
# Its max pooling becomes average pooling here: a max's gradient goes to one
# element of its window, so a rounding difference that flips which element
# is largest moves a whole gradient (measured: 1e-8 apart at step 40, 2e-6
# at step 50 after such a flip), which is not what this test is about.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
cfg="$src/configs/fashion_cnn.ini"
common=(--set train.max_steps=60 --set train.log_every=20 --set data.test= --set conv1.filters=8
        --set conv2.filters=8 --set data.batch_size=64 --set pool1.type=avgpool
        --set pool2.type=avgpool "${PIN[@]}")
for n in 1 4; do
    mpi $n "$prog" "$cfg" "${common[@]}" --set run.dir=r$n >out.txt 2>err.txt || fail "$n ranks: exit $?"
done
ckpt_close r1/checkpoints/ckpt-60.h5 r4/checkpoints/ckpt-60.h5 || fail "4 ranks differ from 1"
h5dump -d /model/bn1/running_var r4/checkpoints/ckpt-60.h5 >/dev/null || fail "no running statistics"
# Without sync each rank normalizes its own quarter of the batch: not the
# same model, which shows the test can tell.
mpi 4 "$prog" "$cfg" "${common[@]}" --set bn1.sync=false --set bn2.sync=false --set run.dir=u4 \
    >out.txt 2>err.txt || fail "4 unsynchronized ranks: exit $?"
ckpt_close r1/checkpoints/ckpt-60.h5 u4/checkpoints/ckpt-60.h5 >/dev/null &&
    fail "unsynchronized batch norm matched 1 rank: the comparison cannot tell"
echo "mpi_batchnorm: all passed"
