#!/bin/bash
# The libFuzzer harnesses of tests/fuzz: builds them with clang in
# build-fuzz/ (CPU-only, AddressSanitizer and UBSan, coverage for
# libFuzzer) and runs the fuzz.<name> tests there: each replays its seed
# corpus, then fuzzes for SECONDS (default 20; 0 replays only).
#
#     bash tests/fuzz/run.sh                 # every harness, 20 s each
#     bash tests/fuzz/run.sh 600             # 10 minutes each
#     bash tests/fuzz/run.sh 60 checkpoint   # one harness (a ctest regex)
#
# A failing input is left in build-fuzz/tests/fuzz/<name>/artifacts/; new
# inputs the fuzzer found are in build-fuzz/tests/fuzz/<name>/scratch/,
# never in the corpus. RUNS.md records the long runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-20}
only=${2:-}
jobs=$(nproc)

command -v clang >/dev/null || {
    echo "tests/fuzz/run.sh: clang is not installed (apt-get install clang)"
    exit 1
}
# -O2 -g, without -DNDEBUG: fast enough to fuzz, stacks with lines.
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DACCEL_FUZZ=ON -DACCEL_TESTS=OFF \
    -DACCEL_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g" \
    -DACCEL_FUZZ_SECONDS="$seconds"
cmake --build build-fuzz -j"$jobs"
ctest --test-dir build-fuzz -R "^fuzz\.${only:+($only)\$}" --output-on-failure -j"$jobs"
