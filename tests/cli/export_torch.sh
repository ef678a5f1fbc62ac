#!/bin/bash
# trainer/scripts/export_torch.py loads checkpoints of the MLP and the CNN
# config into PyTorch (Debian's python3-torch), whose logits agree with
# accel-train's own (--predict) within 1e-4 and whose test accuracy is the
# same; and a GPT's, whose logits agree too and which then trains as
# accel-train does. SKIPPED where PyTorch or h5py is missing.
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
# A GPT: from accel-train's initial checkpoint, PyTorch's logits agree with
# its --predict within 1e-4, and PyTorch takes the same 10 AdamW steps
# (tests/python/check_gpt.py).
for i in $(seq 1 200); do echo "line $i: the quick brown fox jumps over the lazy dog"; done >text.txt
write_gpt_config gpt.ini blocks=2 tied named <<'INI'
[run]
name = gpt
seed = 5
threads = 1
[data]
format = text
train = text.txt
test =
shuffle = false
batch_size = 4
[train]
max_steps = 10
log_every = 1
[optimizer]
type = adamw
lr = 0.003
beta2 = 0.95
weight_decay = 0.1
decay = matrices
clip_norm = 1.0
[checkpoint]
every_steps = 10
INI
run gpt.ini --set run.dir=g0 --set train.max_steps=0
[ $rc -eq 0 ] || fail "gpt: the initial checkpoint: exit $rc"
run gpt.ini --eval g0/checkpoints/ckpt-0.h5 --predict gpt0.h5
[ $rc -eq 0 ] || fail "gpt: --eval of the initial checkpoint: exit $rc"
run gpt.ini --set run.dir=g10
[ $rc -eq 0 ] || fail "gpt: 10 steps: exit $rc"
"$py" "$src/tests/python/check_gpt.py" g0/checkpoints/ckpt-0.h5 g10/checkpoints/ckpt-10.h5 \
    g10/metrics.jsonl text.txt "$src" gpt0.h5 || fail "gpt: PyTorch disagrees"
echo "export_torch: all passed"
