#!/bin/bash
# trainer/scripts/export_torch.py loads checkpoints of the MLP and the CNN
# config into PyTorch (Debian's python3-torch), whose logits agree with
# accel-train's own (--predict) within 1e-4 and whose test accuracy is the
# same. SKIPPED where PyTorch or h5py is missing.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
py=${ACCEL_TEST_SYSPYTHON:-/usr/bin/python3}
"$py" -c "import torch, h5py, numpy" 2>/dev/null ||
    { echo "SKIPPED: $py lacks torch, h5py or numpy (apt-get install python3-torch python3-h5py)"; exit 77; }
for name in fashion_mlp fashion_cnn; do
    run "$src/configs/$name.ini" --set train.max_steps=40 --set train.log_every=20 --set data.test= \
        --set run.dir=$name
    [ $rc -eq 0 ] || fail "$name: training exit $rc"
    run "$src/configs/$name.ini" --eval $name/checkpoints/ckpt-40.h5 --predict $name.h5
    [ $rc -eq 0 ] || fail "$name: --eval exit $rc"
    "$py" "$src/tests/python/check_export.py" $name/checkpoints/ckpt-40.h5 $name.h5 \
        "$FASHION/t10k" "$src" || fail "$name: PyTorch disagrees"
done
echo "export_torch: all passed"
