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

/* Launches a one-thread kernel on the current device and reads its
 * result back (synchronously): cudaSuccess when the device runs this
 * binary's code (probe.cu). */
cudaError_t cuk_probe(void);

/* Blocks of the two-pass sum of squares: the partials buffer holds this many. */
#define CUK_SUMSQ_BLOCKS 256

cudaError_t cuk_bias_act_forward(cudaStream_t s, float *z, float *y, const float *bias, int outer,
                                 int channels, int inner, act_kind act);
cudaError_t cuk_add(cudaStream_t s, float *y, const float *a, const float *b, size_t n);
cudaError_t cuk_act_backward(cudaStream_t s, float *dz, const float *dy, const float *z,
                             const float *y, size_t n, act_kind act);
cudaError_t cuk_bias_grad(cudaStream_t s, float *db, const float *dz, int outer, int channels,
                          int inner);
/* out (device, 2 x channels doubles): the sums of a and of a * b per channel. */
cudaError_t cuk_channel_sums(cudaStream_t s, const float *a, const float *b, int outer,
                             int channels, int inner, double *out);
/* Per channel, math_bn_stats; sums NULL: from the running statistics. */
cudaError_t cuk_bn_stats(cudaStream_t s, const double *sums, double count, int channels, double eps,
                         double momentum, float *mean, float *invstd, float *run_mean,
                         float *run_var);
cudaError_t cuk_sums_to_float(cudaStream_t s, float *out, const double *sums, size_t n,
                              double divisor);
cudaError_t cuk_bn_forward(cudaStream_t s, const float *x, float *xhat, float *z, float *y,
                           const float *mean, const float *invstd, const float *gamma,
                           const float *beta, int outer, int channels, int inner, act_kind act);
cudaError_t cuk_bn_backward(cudaStream_t s, const float *dz, const float *xhat, float *dx,
                            const float *gamma, const float *invstd, const float *mean_dz,
                            const float *mean_dzxhat, int outer, int channels, int inner);
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
