#!/bin/bash
# The TensorBoard event files, read back by the tensorboard package itself,
# hold every value of metrics.jsonl (train and test, a resumed run's too).
# Needs a Python with tensorboard: $ACCEL_TEST_PYTHON, or the .venv that
# tests/run.sh makes; SKIPPED without one.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
py=${ACCEL_TEST_PYTHON:-$src/.venv/bin/python}
"$py" -c "import tensorboard" 2>/dev/null ||
    { echo "SKIPPED: no Python with the tensorboard package at $py (tests/run.sh makes one)"; exit 77; }
cfg="$src/configs/fashion_mlp.ini"
run "$cfg" --set train.max_steps=1000 --set train.log_every=100 --set run.dir=r
[ $rc -eq 0 ] || fail "training: exit $rc"
run "$cfg" --set train.max_steps=1200 --set train.log_every=100 --set run.dir=r --resume auto
[ $rc -eq 0 ] || fail "resuming: exit $rc"
[ "$(ls r/events.out.tfevents.* | wc -l)" -eq 2 ] || fail "expected an event file for each run"
"$py" "$src/tests/python/check_tensorboard.py" r || fail "the event files do not match metrics.jsonl"
echo "tensorboard: all passed"
