/* cpu_ops: the CPU backend's operations that live in files of their own
 * (convolution, pooling, batch norm); backend_cpu.c puts them in its table. */
#ifndef ACCEL_CPU_OPS_H
#define ACCEL_CPU_OPS_H

#include "kernels/backend.h"

/* CPU_SIMD marks a hot loop to be compiled three times, for AVX-512, AVX2
 * and baseline x86-64, the loader picking the widest the CPU has: one binary
 * for every machine. The pick does not change results: in ISO C mode GCC
 * never fuses a * b + c into an FMA, and every reduction keeps its order. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CPU_SIMD __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_SIMD
#endif

int cpu_conv_plan(backend *be, const conv_geom *g, int train_rows, int max_rows, void **plan);
int cpu_conv_forward(backend *be, void *plan, const float *x, const float *w, float *y, int rows);
int cpu_conv_backward(backend *be, void *plan, const float *x, const float *w, const float *dy,
                      float *dw, float *dx, int rows);

int cpu_pool_plan(backend *be, const pool_geom *g, int max_rows, void **plan);
int cpu_pool_forward(backend *be, void *plan, const float *x, float *y, int rows);
int cpu_pool_backward(backend *be, void *plan, const float *x, const float *y, const float *dy,
                      float *dx, int rows);

void cpu_plan_release(backend *be, void *plan);

/* *sum_a = the sum of a[i], *sum_ab = the sum of a[i] b[i], in double, in a
 * fixed order (sums.c). */
void cpu_sums(const float *a, const float *b, size_t n, double *sum_a, double *sum_ab);

int cpu_channel_sums(backend *be, const float *a, const float *b, int outer, int channels,
                     int inner, double *sums);
int cpu_bn_stats(backend *be, const double *sums, double count, int channels, double eps,
                 double momentum, float *mean, float *invstd, float *run_mean, float *run_var);
int cpu_sums_to_float(backend *be, float *out, const double *sums, size_t n, double divisor);
int cpu_bn_forward(backend *be, const float *x, float *xhat, float *z, float *y, const float *mean,
                   const float *invstd, const float *gamma, const float *beta, int outer,
                   int channels, int inner, act_kind act);
int cpu_bn_backward(backend *be, const float *dz, const float *xhat, float *dx, const float *gamma,
                    const float *invstd, const float *mean_dz, const float *mean_dzxhat, int outer,
                    int channels, int inner);

int cpu_embed_forward(backend *be, const int32_t *tok, const float *wte, const float *wpe, float *y,
                      int rows, int t, int c, int vocab);
int cpu_embed_backward(backend *be, const int32_t *tok, const float *dy, float *dwte, float *dwpe,
                       int rows, int t, int c, int vocab, bool accumulate);
int cpu_layernorm_forward(backend *be, const float *x, const float *g, const float *b, float *y,
                          float *mean, float *rstd, int n, int c, float eps);
int cpu_layernorm_backward(backend *be, const float *dy, const float *x, const float *g,
                           const float *mean, const float *rstd, float *dx, float *dg, float *db,
                           int n, int c);
/* y = x times math_dropout_scale's mask at indices first .. first + n - 1
 * (dropout.c); the backward applies the same mask. */
int cpu_dropout(backend *be, float *y, const float *x, size_t n, float rate, uint64_t seed,
                uint32_t layer, uint32_t step, uint64_t first);
int cpu_causal_softmax(backend *be, float *att, int n, int t, float scale);
int cpu_causal_softmax_row(backend *be, float *row, int pos, int t, float scale);
int cpu_causal_softmax_backward(backend *be, float *datt, const float *att, int n, int t,
                                float scale);

#endif
