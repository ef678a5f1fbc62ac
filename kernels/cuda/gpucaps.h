/* gpucaps: what a GPU of a given compute capability offers the backend:
 * tensor cores for TF32 and bfloat16 or not, and so the precision its
 * matrix products run at; its peak rate of matrix products; the workspace
 * cuBLAS takes on it by default.
 *
 * Plain C over (major, minor), in every build, so the rules are unit-tested
 * here with made-up GPUs (tests/unit/test_gpucaps.c), a T4 (7.5) among
 * them, where no GPU ever runs; backend_cuda.c asks them of the real one. */
#ifndef ACCEL_GPUCAPS_H
#define ACCEL_GPUCAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"

/* TF32 and bfloat16 tensor cores came with compute capability 8.0
 * (Ampere): Volta (7.0) and Turing (7.5, the T4) have FP16 and integer
 * tensor cores only. */
bool gpucaps_tf32_bf16(int major, int minor);

/* The precision matrix products run at when `asked` (train.precision):
 * as asked where the tensor cores exist, fp32 below 8.0. cuBLAS documents
 * its FAST_TF32 and FAST_16BF compute types as allowing tensor cores, not
 * as what a GPU without them does, so the backend passes
 * CUBLAS_COMPUTE_32F itself there (and cuDNN its FMA math): the fallback
 * is fp32 by construction, products equal to the fp32 ones. */
precision_kind gpucaps_precision(precision_kind asked, int major, int minor);

/* Where gpucaps_precision falls back, a clause for the start-up line
 * naming what was asked, the GPU and why ("train.precision = bf16 falls
 * back to fp32 math on Tesla T4 (compute capability 7.5, no TF32 or bf16
 * tensor cores: they came with 8.0)"); otherwise "". Returns buf. */
const char *gpucaps_fallback(char *buf, size_t size, precision_kind asked, const char *name,
                             int major, int minor);

/* Dense multiply-adds a multiprocessor does each clock on its FP32 lanes:
 * 64 on Volta and Turing (7.x) and on the A100 (8.0), 128 on the others
 * since (8.6, 8.9, 9.0 and Blackwell), from NVIDIA's architecture
 * whitepapers. */
int gpucaps_fp32_fma_per_clock(int major, int minor);

/* Dense bfloat16 tensor-core multiply-adds a multiprocessor does each
 * clock (TF32: half that), from the whitepapers (A100: 312 TFLOP/s at 108
 * multiprocessors and 1.41 GHz; H100 SXM: 989 at 132 and 1.83); 0 where
 * there are none (below 8.0) or the generation is not known here. */
int gpucaps_tensor_fma_per_clock(int major, int minor);

/* The peak rate of matrix products in FLOP/s at precision `run` (what
 * runs, gpucaps_precision's answer) for `sms` multiprocessors at `khz`;
 * 0 where unknown (then no utilization is shown). */
double gpucaps_peak_flops(precision_kind run, int major, int minor, int sms, int khz);

/* The device memory of cuBLAS's default workspace pool, which a handle
 * takes for itself (the backend gives it none of its own: cublasSetStream
 * resets the handle to that pool). From cuBLAS's documentation of
 * cublasSetWorkspace, "the cuBLAS default workspace pool size which is GPU
 * architecture dependent": 32 MiB on Hopper (sm90) and Blackwell (sm10x,
 * sm12x), 4 MiB on the others. */
uint64_t gpucaps_cublas_workspace(int major, int minor);

#endif
