#!/bin/bash
# Killing the program at any moment, even while it writes a checkpoint,
# leaves every ckpt-<step>.h5 whole: a run that checkpoints every step is
# killed with SIGKILL at varied moments, and each time every checkpoint left
# must read completely, and the next start removes the dead writer's
# temporary file and resumes from the newest. The model is wide (10 MB
# checkpoints) so that a good share of the run is spent writing.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
write_resume_config c.ini
args=(c.ini --set run.dir=k --set checkpoint.every_steps=1 --set checkpoint.keep=4
      --set train.epochs=1000 --set layer0.units=1024 --set data.batch_size=256 --resume auto)
temps=0
for i in 1 2 3 4 5 6 7 8; do
    "$prog" "${args[@]}" >out.txt 2>err.txt &
    pid=$!
    # once it writes checkpoints, kill it a varied few milliseconds later
    for t in $(seq 200); do
        ls k/checkpoints/ckpt-*.h5 >/dev/null 2>&1 && [ "$(wc -l <out.txt)" -gt 3 ] && break
        sleep 0.05
    done
    delay=0.$(printf '%03d' $((RANDOM % 400)))
    sleep "$delay"
    kill -9 $pid
    wait $pid 2>/dev/null
    n=0
    for f in k/checkpoints/ckpt-*.h5; do
        [ -e "$f" ] || continue
        "$diff" "$f" "$f" >/dev/null || fail "after a kill at ${delay}s, $f does not read"
        n=$((n + 1))
    done
    t=$(ls -A k/checkpoints | grep -c '^\.ckpt')
    temps=$((temps + t))
    echo "killed ${delay}s after checkpointing began: $n whole checkpoints, $t temporary"
done
echo "$temps of 8 kills caught a write in progress"
[ "$n" -gt 0 ] || fail "no checkpoint was ever written"
newest=$(ls k/checkpoints | sort -t- -k2 -n | tail -1)
run "${args[@]}" --set train.max_steps=0
[ $rc -eq 0 ] || fail "restart: exit $rc"
grep -q "resuming from k/checkpoints/$newest" out.txt || fail "did not resume from $newest"
[ "$(ls -A k/checkpoints | grep -c '^\.ckpt')" -eq 0 ] || fail "a stale temporary file is left"
echo "kill_writer: all passed"
