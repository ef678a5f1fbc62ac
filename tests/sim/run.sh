#!/bin/bash
# The simulator tier: the CUDA backend's own kernels, executed without a
# GPU. Builds GPGPU-Sim with this repository's fixes (tests/sim/build.sh;
# cached), builds the CUDA backend for it (sm_75 PTX, the CUDA runtime
# loaded dynamically, since the simulator is a libcudart.so of its own) in
# build-sim/accel, and runs the sim.* tests there: every test of
# tests/gpu/test_gpu_ops tagged "kernel" (cuBLAS, cuDNN and NCCL cannot
# run under the simulator), one a ctest, and the small kernels of
# tests/sim/defects that show each simulator defect fixed. Where the
# simulator's sources (../shared/gpgpu-sim, or ACCEL_GPGPUSIM) or the CUDA
# toolkit are missing, it says SKIPPED with the reason and succeeds.
#     bash tests/sim/run.sh            # from tests/run.sh, or alone
set -euo pipefail
cd "$(dirname "$0")/../.."
sim=${ACCEL_GPGPUSIM:-../shared/gpgpu-sim}
if [ ! -f "$sim/build.sh" ]; then
    echo "SKIPPED: the simulator tier: no GPGPU-Sim sources at $sim (set ACCEL_GPGPUSIM)"
    exit 0
fi
if [ ! -x /usr/local/cuda/bin/nvcc ]; then
    echo "SKIPPED: the simulator tier: no CUDA toolkit at /usr/local/cuda"
    exit 0
fi
jobs=$(nproc)
echo "== the simulator (GPGPU-Sim, $sim, with tests/sim/patches)"
prefix=$(bash tests/sim/build.sh "$sim" build-sim)
echo "== build for the simulator (sm_75, shared CUDA runtime)"
cmake -S . -B build-sim/accel -DCMAKE_BUILD_TYPE=Release -DACCEL_WERROR=ON -DACCEL_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES=75 -DCMAKE_CUDA_RUNTIME_LIBRARY=Shared -DACCEL_SIM_PREFIX="$prefix"
cmake --build build-sim/accel -j"$jobs" --target test_gpu_ops sim_defects
echo "== tests under the simulator"
ctest --test-dir build-sim/accel -R '^sim\.' --output-on-failure -j"$jobs"
