/* kernels: the CUDA kernels of the backend, behind plain C launchers.
 *
 * Each launcher enqueues its kernel on `s` and returns the launch status
 * (cudaGetLastError); backend_cuda.c turns a failure into a message. The
 * per-element formulas are those of kernels/math.h, the same the CPU
 * backend runs. */
#ifndef ACCEL_CUDA_KERNELS_H
#define ACCEL_CUDA_KERNELS_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/math.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks of the two-pass sum of squares: the partials buffer holds this many. */
#define CUK_SUMSQ_BLOCKS 256

cudaError_t cuk_bias_act_forward(cudaStream_t s, float *z, float *y, const float *bias, int rows,
                                 int cols, act_kind act);
cudaError_t cuk_act_backward(cudaStream_t s, float *dz, const float *dy, const float *z,
                             const float *y, size_t n, act_kind act);
cudaError_t cuk_bias_grad(cudaStream_t s, float *db, const float *dz, int rows, int cols);
cudaError_t cuk_xent(cudaStream_t s, const float *z, const int32_t *labels, int rows, int cols,
                     float scale, float *dz, float *stats);
cudaError_t cuk_dropout(cudaStream_t s, float *y, const float *x, size_t n, float rate,
                        uint64_t seed, uint32_t layer, uint32_t step, uint64_t first);
/* *result (device) = sum of x[i]^2, in double, in a fixed order (so the
 * same on every run); partials holds CUK_SUMSQ_BLOCKS doubles. */
cudaError_t cuk_sumsq(cudaStream_t s, const float *x, size_t n, double *partials, double *result);
cudaError_t cuk_adam(cudaStream_t s, float *p, const float *g, float *m, float *v, size_t n,
                     adam_hyper h);

#ifdef __cplusplus
}
#endif

#endif
