#!/bin/bash
# One fuzz.<name> test:
#     fuzz_one.sh HARNESS CORPUS WORKDIR SECONDS MAX_LEN [DICT]
# First every file of CORPUS is run once, whole: libFuzzer runs the files
# it is given by name once each and exits (given the directory, it would
# cut each seed to -max_len, and go on to fuzz unless -runs=0), so a seed
# that fails fails the test at once, naming it. Then SECONDS of fuzzing from
# CORPUS, writing the new inputs it finds to WORKDIR/scratch (kept between
# runs: a longer run starts where the last one left off), never to CORPUS,
# which holds only the reviewed seeds. A crash, a leak, a sanitizer report,
# an input slower than 10 s or one using over 2 GiB fails the test and
# leaves the input in WORKDIR/artifacts/.
set -u
harness=$1 corpus=$2 work=$3 seconds=$4 max_len=$5 dict=${6:-}
name=$(basename "$harness")
mkdir -p "$work/scratch" "$work/artifacts"
opts=(-rss_limit_mb=2048 -timeout=10 -artifact_prefix="$work/artifacts/")

# libFuzzer exits 77 on a failing input, which this project's ctest entries
# read as SKIPPED (SKIP_RETURN_CODE 77): the test's own status is 1.
failed() {
    echo "FAIL: $name $1; the input is in $work/artifacts/:"
    ls -lt "$work/artifacts/" | head -6
    echo "replay it with: $harness $work/artifacts/<file>"
    exit 1
}

mapfile -t seeds < <(find "$corpus" -type f | sort)
[ ${#seeds[@]} -gt 0 ] || { echo "FAIL: no seeds in $corpus"; exit 1; }
echo "== $name: replaying ${#seeds[@]} seeds of $corpus"
"$harness" "${opts[@]}" "${seeds[@]}" >"$work/replay.log" 2>&1 || {
    tail -60 "$work/replay.log"
    # given files, libFuzzer names each as it runs it and saves no artifact
    seed=$(sed -n 's/^Running: //p' "$work/replay.log" | tail -1)
    echo "FAIL: $name failed on the seed $seed"
    echo "replay it with: $harness $seed"
    exit 1
}
echo "replayed: every seed ran cleanly"

[ "$seconds" -gt 0 ] || exit 0
echo "== $name: fuzzing for $seconds s (max_len $max_len), new inputs to $work/scratch"
extra=()
[ -n "$dict" ] && extra+=(-dict="$dict")
"$harness" "${opts[@]}" "${extra[@]}" -max_len="$max_len" -max_total_time="$seconds" \
    -print_final_stats=1 "$work/scratch" "$corpus" 2>&1 | tee "$work/fuzz.log" |
    grep -v -E '^#[0-9]+.*(NEW|REDUCE|pulse)' | tail -80
[ "${PIPESTATUS[0]}" -eq 0 ] || failed "found a failing input"
