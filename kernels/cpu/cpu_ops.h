/* cpu_ops: what the CPU backend's files share. Each operation of
 * backend.h's list is cpu_<name>, defined in the file of kernels/cpu named
 * for its concept (gemm.c, elementwise.c, conv.c, ...) and declared here
 * from the list; backend_cpu.c puts them in its table by name. */
#ifndef ACCEL_CPU_OPS_H
#define ACCEL_CPU_OPS_H

#include "kernels/backend.h"
#include "kernels/cpu/workers.h"

/* CPU_SIMD marks a hot loop to be compiled three times, for AVX-512, AVX2
 * and baseline x86-64, the loader picking the widest the CPU has: one binary
 * for every machine. The pick does not change results: in ISO C mode GCC
 * never fuses a * b + c into an FMA, and every reduction keeps its order. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define CPU_SIMD __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CPU_SIMD
#endif

/* cpu_gemm, cpu_bias_act_forward, ...: every operation of backend.h. */
#define CPU_OP_DECLARE(ret, name, params) ret cpu_##name(backend *be, BACKEND_OP_PARAMS params);
BACKEND_OPS(CPU_OP_DECLARE)
#undef CPU_OP_DECLARE

/* The CPU backend's own state (be->impl). */
typedef struct {
    /* A product's two inputs rounded to a precision below float32 (gemm.c),
     * each grown to the largest operand met. Only runs emulating TF32 or
     * bf16 use them, so they stay outside the memory plan. */
    float *rounded[2];
    size_t rounded_cap[2];
    /* the backend's threads, for products and every other pass (workers.h) */
    cpu_workers *workers;
    /* The fused attention's tiles, a slice for each thread (flash_attention.c),
     * grown to the widest heads met: like `rounded`, made in the first step
     * and outside the memory plan (tens of KiB a thread). */
    float *attn_scratch;
    size_t attn_scratch_cap;
    /* The fused attention's products as on a CPU without AVX2, for the
     * tests to compare on one that has it (the same bits, slower). */
    bool attn_baseline;
} cpu_impl;

static inline cpu_workers *cpu_workers_of(backend *be)
{
    return ((cpu_impl *)be->impl)->workers;
}

/* The sum of x[j] (y NULL) or of x[j] y[j], j < n, in CPU_LANES running
 * sums added in a fixed order at the end: a loop the compiler vectorizes
 * (one running sum could not be), with the same result at every vector
 * width. */
enum { CPU_LANES = 16 };
static inline float cpu_lane_dot(const float *x, const float *y, int n)
{
    float acc[CPU_LANES] = {0};
    int j = 0;
    for (; j + CPU_LANES <= n; j += CPU_LANES)
        for (int l = 0; l < CPU_LANES; l++)
            acc[l] += x[j + l] * (y ? y[j + l] : 1.0f);
    for (int l = 0; j < n; j++, l++)
        acc[l] += x[j] * (y ? y[j] : 1.0f);
    float sum = 0.0f;
    for (int l = 0; l < CPU_LANES; l++)
        sum += acc[l];
    return sum;
}

/* z[j] = the factor dropout_forward's mask gives element first + j of
 * (seed, layer, step), j < n: 0 or 1 / (1 - rate) (dropout.c, the same
 * Philox numbers). For a pass that applies the mask itself (the fused
 * attention's weights). */
void cpu_dropout_keep(float *z, size_t n, float rate, uint64_t seed, uint32_t layer, uint32_t step,
                      uint64_t first);

/* cpu_gemm with its inputs at precision p rather than be->precision (a
 * convolution's products take precision_of_conv). */
int cpu_gemm_at(backend *be, precision_kind p, bool ta, bool tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* *sum_a = the sum of a[i], *sum_ab = the sum of a[i] b[i], in double, in a
 * fixed order (sums.c). */
void cpu_sums(const float *a, const float *b, size_t n, double *sum_a, double *sum_ab);

#endif
