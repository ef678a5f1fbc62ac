/* cuda_impl: what the CUDA backend's files share: its state, and the
 * declarations of its operations. Each operation of backend.h's list is
 * gpu_<name>, defined in the file of kernels/cuda named for its concept,
 * kernel and launcher together (elementwise.cu, adam.cu, ...; dnn.c and
 * gemm.c call cuDNN and cuBLAS); backend_cuda.c puts them in its table by
 * name. A launcher enqueues its kernels on the compute stream
 * (stream_of) and returns KERNEL_LAUNCHED's verdict. The per-element
 * formulas are those of kernels/math.h, the same the CPU backend runs.
 * Included by C and by CUDA C++ (nvcc) sources alike. */
#ifndef ACCEL_CUDA_IMPL_H
#define ACCEL_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <stdbool.h>

#include "kernels/backend.h"
#include "kernels/cuda/cuda_check.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks of sumsq's first pass: its partials buffer holds this many. */
#define CUK_SUMSQ_BLOCKS 256
/* Floats of the column sums' partials (colsum.cuh): 4 MiB. */
#define CUK_COLSUM_FLOATS (1 << 20)

typedef struct {
    int device;
    cudaStream_t compute, copy;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    precision_kind precision; /* what runs of train.precision (gpucaps.h; gemm.c, dnn.c) */
    bool deterministic;       /* cuDNN algorithms that repeat bitwise only */
    /* The convolutions' workspace: one, as large as the largest plan
     * needs; they run one at a time on the compute stream. */
    void *workspace;
    size_t workspace_bytes;
    cudaEvent_t ready[2], consumed[2];     /* input staging, per slot */
    cudaEvent_t timing[BACKEND_EVENTS];    /* step-time breakdown */
    double *sumsq_partials, *sumsq_result; /* device scratch for sumsq */
    float *colsum_partials;                /* and for column sums (colsum.cuh) */
} cuda_impl;

static inline cuda_impl *impl_of(backend *be)
{
    return (cuda_impl *)be->impl;
}

/* The stream every operation runs on. */
static inline cudaStream_t stream_of(backend *be)
{
    return impl_of(be)->compute;
}

/* After a kernel's launch (<<<...>>>, which returns nothing): 0, or -1
 * with a message naming the kernel and where it was launched. */
#define KERNEL_LAUNCHED(kernel) cuda_launched(#kernel, __FILE__, __LINE__)
static inline int cuda_launched(const char *kernel, const char *file, int line)
{
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : cuda_fail(kernel, e, file, line);
}

/* gpu_gemm, gpu_bias_act_forward, ...: every operation of backend.h. */
#define GPU_OP_DECLARE(ret, name, params) ret gpu_##name(backend *be, BACKEND_OP_PARAMS params);
BACKEND_OPS(GPU_OP_DECLARE)
#undef GPU_OP_DECLARE

/* backend.h's conv_workspace: what gpu_conv_plan would take (dnn.c). */
int gpu_conv_workspace(backend *be, const conv_geom *g, int train_rows, int max_rows,
                       uint64_t *bytes);

/* An operation the GPU has no kernel for yet (its file holds a stub): -1,
 * with a message naming it and the kind of layer that needs it. */
int gpu_lacks(const char *layer, const char *op);

/* Launches a one-thread kernel on the current device and reads its
 * result back (synchronously): cudaSuccess when the device runs this
 * binary's code (probe.cu). */
cudaError_t cuk_probe(void);

#ifdef __cplusplus
}
#endif

#endif
