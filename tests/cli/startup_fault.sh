#!/bin/bash
# A rank that fails alone in start-up (out of memory, a failed host call)
# fails the whole job at once with one line naming it and why, exit 1,
# never a hang; the checkpoints are untouched. The failures are made on
# purpose (util/fault.h): ACCEL_FAULT=SITE@RANK fails that rank at that
# site; each site sits before a collective its peers would otherwise wait
# in. A hang is caught by `timeout`.
prog=$1 src=$2 diff=$3
source "$(dirname "$0")/lib.sh"
write_resume_config c.ini
run c.ini --set train.max_steps=20
[ $rc -eq 0 ] || fail "the first run failed"
ckpts() { sha256sum runs/resume/checkpoints/* 2>/dev/null; }
before=$(ckpts)
[ -n "$before" ] || fail "no checkpoint to resume from"

# fault SITE@RANK RANKS PATTERN [--set ...]: the job fails in one line
# of ours matching "accel-train: error: PATTERN", exit 1, within the limit.
fault() {
    local at=$1 n=$2 pattern=$3
    shift 3
    local start=$(date +%s)
    ACCEL_FAULT=$at timeout 120 mpirun -x ACCEL_FAULT -np "$n" "$prog" c.ini --resume auto \
        --set train.max_steps=40 "$@" >out.txt 2>err.txt
    rc=$?
    [ $rc -ne 124 ] || fail "$at on $n ranks: the job hung (killed after 120 s)"
    [ $rc -eq 1 ] || fail "$at on $n ranks: exit status $rc, expected 1"
    # one line of ours (mpirun adds its own words after it)
    [ "$(grep -c '^accel-train' err.txt)" -eq 1 ] || fail "$at on $n ranks: not one line of ours"
    grep -Eq -- "^accel-train: error: $pattern" err.txt ||
        fail "$at on $n ranks: stderr does not match '$pattern'"
    [ "$(ckpts)" = "$before" ] || fail "$at on $n ranks: the checkpoints changed"
    echo "ok: $at on $n ranks, $(($(date +%s) - start)) s: $(grep ^accel-train err.txt)"
}

fault resume.alloc@1 2 "rank 1: out of host memory for a checkpoint$"
fault resume.alloc@0 2 "out of host memory for a checkpoint$"
fault resume.load@1 2 "rank 1: loading the checkpoint into the model: Input/output error$"
fault devices@1 2 "rank 1: gethostname \(.*\): Input/output error$"
fault placement@1 4 "rank 1: out of host memory for the ranks' host names$"
fault placement@3 4 "rank 3: out of host memory for the ranks' host names$"
fault sync@1 2 "rank 1: out of host memory for the all-reduce$"
fault sync@1 2 "rank 1: out of host memory for the sharded gradient sync$" \
    --set optimizer.shard=true
fault checksum@1 2 "rank 1: the parameter checksum: Input/output error$"
# alone, the rank is not named
fault devices 1 "gethostname \(.*\): Input/output error$"
fault checksum 1 "the parameter checksum: Input/output error$"

# and without a fault, the same command resumes and trains on
ACCEL_FAULT= mpirun -np 2 "$prog" c.ini --resume auto --set train.max_steps=40 >out.txt 2>err.txt ||
    fail "the run without a fault failed"
grep -q "resuming from runs/resume/checkpoints/ckpt-20.h5" out.txt || fail "did not resume"
echo "startup_fault: all passed"
