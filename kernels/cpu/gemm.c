/* gemm: matrix products on the CPU, OpenBLAS's sgemm on row-major
 * matrices. At train.precision = tf32 or bf16 the inputs are first rounded
 * as a GPU's tensor cores take them (math_round_mantissa) and the product is
 * then the float32 one: an emulation, slower than float32, so that mixed
 * precision's bookkeeping and its effect on training are tested on machines
 * without a GPU. */
#include <cblas.h>
#include <stdlib.h>

#include "kernels/cpu/cpu_ops.h"
#include "util/err.h"

/* Rounded scratch slot `slot`, at least `floats` long. Grown in the first
 * steps only (every step's products have the same shapes). */
static float *scratch(backend *be, int slot, size_t floats)
{
    cpu_impl *c = be->impl;
    if (c->rounded_cap[slot] < floats) {
        free(c->rounded[slot]);
        c->rounded[slot] = malloc(sizeof(float) * floats);
        c->rounded_cap[slot] = c->rounded[slot] ? floats : 0;
    }
    return c->rounded[slot];
}

/* dst (rows x cols, packed) = src (rows x cols, leading dimension ld) with
 * `keep` fraction bits. */
CPU_SIMD static void round_rows(float *restrict dst, const float *restrict src, int rows, int cols,
                                int ld, int keep)
{
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            dst[(size_t)r * cols + j] = math_round_mantissa(src[(size_t)r * ld + j], keep);
}

int cpu_gemm_at(backend *be, precision_kind p, bool ta, bool tb, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    if (p != PRECISION_FP32 && m > 0 && n > 0 && k > 0) {
        /* as stored: A is k x m when transposed, B is n x k */
        int a_rows = ta ? k : m, a_cols = ta ? m : k;
        int b_rows = tb ? n : k, b_cols = tb ? k : n;
        float *ra = scratch(be, 0, (size_t)a_rows * a_cols);
        float *rb = scratch(be, 1, (size_t)b_rows * b_cols);
        if (!ra || !rb)
            return err_set("out of host memory for the %s rounding of a %d x %d x %d product",
                           p == PRECISION_BF16 ? "bf16" : "tf32", m, n, k);
        round_rows(ra, a, a_rows, a_cols, lda, precision_bits(p));
        round_rows(rb, b, b_rows, b_cols, ldb, precision_bits(p));
        a = ra, lda = a_cols, b = rb, ldb = b_cols;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
    return 0;
}

int cpu_gemm(backend *be, bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    return cpu_gemm_at(be, be->precision, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* A loop of the same sgemm calls, one per product, in order: the results
 * are those of calling gemm on each. */
int cpu_gemm_strided_batched(backend *be, bool ta, bool tb, int m, int n, int k, float alpha,
                             const float *a, int lda, long long stride_a, const float *b, int ldb,
                             long long stride_b, float beta, float *c, int ldc, long long stride_c,
                             int batch)
{
    for (int i = 0; i < batch; i++)
        if (cpu_gemm(be, ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
                     c + i * stride_c, ldc) < 0)
            return -1;
    return 0;
}
