#!/bin/bash
# trainer/scripts/plot_metrics.py draws runs' curves into a PNG.
# SKIPPED where matplotlib is missing.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"
py=${ACCEL_TEST_SYSPYTHON:-/usr/bin/python3}
"$py" -c "import matplotlib" 2>/dev/null ||
    { echo "SKIPPED: $py lacks matplotlib (apt-get install python3-matplotlib)"; exit 77; }
for seed in 1 2; do
    run "$src/configs/fashion_mlp.ini" --set train.max_steps=120 --set train.log_every=20 \
        --set data.eval_batch_size=2000 --set run.seed=$seed --set run.dir=s$seed
    [ $rc -eq 0 ] || fail "training: exit $rc"
done
"$py" "$src/trainer/scripts/plot_metrics.py" curves.png s1 s2/metrics.jsonl || fail "plot_metrics failed"
[ "$(head -c 8 curves.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "not a PNG"
[ "$(stat -c %s curves.png)" -gt 10000 ] || fail "the PNG is suspiciously small"
echo "plot: all passed"
