#!/bin/bash
# The whole test suite, from a fresh Debian 12 machine: installs the
# dependencies, builds with warnings as errors and runs every test, then
# builds again with AddressSanitizer and UndefinedBehaviorSanitizer and runs
# every test again. This is the README's test command and what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

bash launch/install-deps.sh
# What only the tests need: clang-format for the style check.
apt-get install -y -q --no-install-recommends clang-format

echo "== build (Release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DACCEL_WERROR=ON
cmake --build build -j"$jobs"
echo "== tests"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DACCEL_SANITIZE=ON -DACCEL_WERROR=ON
cmake --build build-asan -j"$jobs"
echo "== tests under the sanitizers"
ctest --test-dir build-asan --output-on-failure -j"$jobs"
