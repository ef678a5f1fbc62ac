#!/bin/bash
# Memory is planned before it is taken: --dry-run's figure for the model is
# what training then allocates; a run that cannot fit in the memory the rank
# can have is refused at start-up with one line and both figures (one rank
# and two), writing nothing; --dry-run describes such a model without
# allocating it; and a resumed run peaks where a fresh one does. SKIPPED on a machine with the ~310 GiB that model needs.
prog=$1 src=$2
source "$(dirname "$0")/lib.sh"

# --dry-run's model figure (parameters x 4 for gradients and Adam's two
# moments, plus activations) against a real run's start-up line
small=("$src/configs/fashion_cnn.ini" --set data.test= "${PIN[@]}")
run "${small[@]}" --dry-run
[ $rc -eq 0 ] || fail "--dry-run: exit $rc"
planned=$(sed -nE 's/^memory of one rank .*: parameters ([0-9.]+) MiB, .*, activations, inputs and workspaces ([0-9.]+) MiB;.*/\1 \2/p' out.txt |
    awk '{printf "%.1f", 4 * $1 + $2}')
[ -n "$planned" ] || fail "no memory line in --dry-run's output"
run "${small[@]}" --set train.max_steps=1 --set run.dir=small
[ $rc -eq 0 ] || fail "one step of fashion_cnn: exit $rc"
took=$(sed -nE 's/.*memory: ([0-9.]+) MiB of cpu buffers.*/\1/p' out.txt err.txt | head -1)
[ -n "$took" ] || fail "no memory line at start-up"
awk -v a="$planned" -v b="$took" 'BEGIN { exit !(a - b < 0.25 && b - a < 0.25) }' ||
    fail "--dry-run planned $planned MiB for the model, training took $took MiB"
echo "ok: --dry-run planned $planned MiB for the model, training took $took MiB"

# A resumed run holds no more than a fresh one: the checkpoint's host copy
# (parameters, moments: 240 MB for this 20 M-parameter MLP) is freed once
# loaded. Both peaks are taken the same way (the children's maximum
# resident set), each run writing one checkpoint; ASan's quarantine would
# keep the freed copy resident, so it is turned off for these two.
peak_kib() {
    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0" /usr/bin/python3 -c '
import resource, subprocess, sys
with open("out.txt", "w") as out, open("err.txt", "w") as err:
    rc = subprocess.run(sys.argv[1:], stdout=out, stderr=err).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if rc == 0 else -rc)' "$prog" "$@"
}
wide=("$src/configs/fashion_mlp.ini" --set fc1.units=4096 --set fc2.units=4096
    --set data.test= --set data.batch_size=64 --set checkpoint.every_steps=10 --set run.dir=wide
    "${PIN[@]}")
fresh=$(peak_kib "${wide[@]}" --set train.max_steps=10)
[ "$fresh" -gt 0 ] || fail "the fresh run failed"
resumed=$(peak_kib "${wide[@]}" --set train.max_steps=20 --resume auto)
[ "$resumed" -gt 0 ] || fail "the resumed run failed"
grep -q "resuming from wide/checkpoints/ckpt-10.h5" out.txt || fail "the run did not resume"
[ $((resumed - fresh)) -lt 122880 ] ||
    fail "a resumed run peaked at $resumed KiB, a fresh one at $fresh KiB: more than half the checkpoint's copy above"
echo "ok: peak resident set $fresh KiB fresh, $resumed KiB resumed"

# Four dense layers of 46,000 units: 6.4 billion parameters, about 310 GiB
# with gradients, Adam's moments and checkpoint staging.
{
    for i in 1 2 3 4; do printf '[layer]\ntype = dense\nunits = 46000\n'; done
    printf '[layer]\ntype = dense\nunits = 10\n'
} >huge.ini
available=$(awk '/^MemAvailable:/ { print int($2 / 1048576) }' /proc/meminfo)
if [ "${available:-0}" -ge 320 ]; then
    echo "SKIPPED: this machine has $available GiB available, enough for the model meant not to fit"
    exit 77
fi
huge=(huge.ini --set data.train="$FASHION/train" --set data.test= --set data.batch_size=64 "${PIN[@]}")
gib='[0-9]+\.[0-9]{2} GiB'
too_big="this run's buffers need $gib, but $gib is available \\((MemAvailable in /proc/meminfo|the limit of the cgroup [^)]*|RLIMIT_AS[^)]*)\\): lower data.batch_size"
expect_fail 1 "$too_big" "${huge[@]}"
[ ! -e runs ] || fail "a refused run wrote a run directory"

# two ranks of one node share its memory: the line gives both figures
mpi 2 "$prog" "${huge[@]}" >out.txt 2>err.txt
rc=$?
[ $rc -eq 1 ] || fail "two ranks: exit status $rc, expected 1"
# (rank 0's checkpoint writing counted once, not a rank: 95.18 GiB a rank
# and 214.06 more in rank 0, where each rank once counted all 309.29)
grep -Eq "^accel-train: error: this run's buffers need $gib a rank and $gib more in rank 0, $gib for the 2 ranks on this node, but $gib is available" err.txt ||
    fail "two ranks: no line with the node's figure"
[ "$(grep -c 'accel-train: error' err.txt)" -eq 1 ] || fail "two ranks: the error was told more than once"

# --dry-run describes it without taking the memory
run "${huge[@]}" --dry-run
[ $rc -eq 0 ] || fail "--dry-run of the large model: exit $rc"
grep -q '^total: 6384708010 parameters' out.txt || fail "--dry-run: wrong parameter count"
grep -Eq '^memory of one rank at 64 rows a step \(0 for evaluation\): parameters 24355.7 MiB' out.txt ||
    fail "--dry-run: no memory line for the large model"
echo "memory: all passed"
