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
} cpu_impl;

static inline cpu_workers *cpu_workers_of(backend *be)
{
    return ((cpu_impl *)be->impl)->workers;
}

/* cpu_gemm with its inputs at precision p rather than be->precision (a
 * convolution's products take precision_of_conv). */
int cpu_gemm_at(backend *be, precision_kind p, bool ta, bool tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* *sum_a = the sum of a[i], *sum_ab = the sum of a[i] b[i], in double, in a
 * fixed order (sums.c). */
void cpu_sums(const float *a, const float *b, size_t n, double *sum_a, double *sum_ab);

#endif
