#!/bin/bash
# Runs one program under GPGPU-Sim, as the simulator tier's tests do:
#     bash tests/sim/exec.sh PREFIX PROGRAM [ARG]...
# from a scratch folder (the simulator reads gpgpusim.config there and
# writes the PTX it extracts there), with the stand-in for cuBLAS's and
# cuDNN's handles preloaded (shared's shim.c: the backend starts as on a
# GPU, and a test that would compute with those libraries is not run
# here). The simulator's own output, thousands of lines, goes to sim.log in
# the scratch folder: the program's verdicts are shown, and the log's tail
# on a failure; the program's exit status is the script's.
set -uo pipefail
prefix=$1
shift
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cp "$prefix"/config/* "$scratch/"
program=$(realpath "$1")
shift
cd "$scratch"
# shellcheck disable=SC1091
. "$prefix/env.sh"
LD_PRELOAD=$GPGPUSIM_SHIM "$program" "$@" >sim.log 2>&1
rc=$?
# the program's own verdicts among the simulator's thousands of lines:
# Check's summary and failures, a defect kernel's "ok:" or "FAILED:"
grep -E '^[0-9]+%: Checks|:[FE]:|^(ok|FAILED|SKIPPED): ' sim.log
[ $rc -eq 0 ] || { echo "--- exit $rc; the simulator's last lines:"; tail -15 sim.log; }
exit $rc
