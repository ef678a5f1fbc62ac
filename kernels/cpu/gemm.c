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

/* A product over the backend's threads: C's rows (or its columns, where
 * they are more) in contiguous ranges, each range an sgemm of its own on
 * one OpenBLAS thread (backend_cpu.c keeps OpenBLAS at one where the
 * backend has threads of its own: its threads would otherwise spin,
 * waiting for work, while the other passes run on the same cores). */
typedef struct {
    bool ta, tb, by_rows;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_pass;

static void sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                  const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* rows (or columns) [from, to) of C */
static void gemm_part(void *arg, size_t from, size_t to)
{
    const gemm_pass *g = arg;
    int len = (int)(to - from);
    if (g->by_rows) /* op(A)'s rows: A's columns when transposed */
        sgemm(g->ta, g->tb, len, g->n, g->k, g->alpha, g->ta ? g->a + from : g->a + from * g->lda,
              g->lda, g->b, g->ldb, g->beta, g->c + from * g->ldc, g->ldc);
    else /* op(B)'s columns: B's rows when transposed */
        sgemm(g->ta, g->tb, g->m, len, g->k, g->alpha, g->a, g->lda,
              g->tb ? g->b + from * g->ldb : g->b + from, g->ldb, g->beta, g->c + from, g->ldc);
}

/* Rows of C worth a thread: about 8 M multiply-adds (some 100 us on one
 * core). Smaller shares cost more than they gained: fashion_mlp's products
 * (13 M multiply-adds and less) ran 7% slower split in two (measured with
 * 4 M; 8 M leaves them whole and still splits fortunes_gpt's per-head
 * products, 17 M a batch). */
static size_t product_grain(size_t per_row)
{
    const size_t work = (size_t)1 << 23;
    return per_row >= work ? 1 : (work + per_row - 1) / (per_row ? per_row : 1);
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
    gemm_pass g = {.ta = ta,
                   .tb = tb,
                   .m = m,
                   .n = n,
                   .k = k,
                   .alpha = alpha,
                   .a = a,
                   .lda = lda,
                   .b = b,
                   .ldb = ldb,
                   .beta = beta,
                   .c = c,
                   .ldc = ldc,
                   .by_rows = m >= n};
    size_t along = (size_t)(g.by_rows ? m : n), across = (size_t)(g.by_rows ? n : m);
    cpu_workers_run(cpu_workers_of(be), along, product_grain(across * (size_t)k), gemm_part, &g);
    return 0;
}

int cpu_gemm(backend *be, bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    return cpu_gemm_at(be, be->precision, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

typedef struct {
    backend *be;
    bool ta, tb;
    int m, n, k, lda, ldb, ldc;
    float alpha, beta;
    const float *a, *b;
    float *c;
    long long stride_a, stride_b, stride_c;
    int failed;
} batch_pass;

/* products [from, to), each on one thread */
static void batch_part(void *arg, size_t from, size_t to)
{
    batch_pass *p = arg;
    for (size_t i = from; i < to; i++) {
        long long at = (long long)i;
        if (p->be->precision == PRECISION_FP32)
            sgemm(p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a + at * p->stride_a, p->lda,
                  p->b + at * p->stride_b, p->ldb, p->beta, p->c + at * p->stride_c, p->ldc);
        else if (cpu_gemm(p->be, p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a + at * p->stride_a,
                          p->lda, p->b + at * p->stride_b, p->ldb, p->beta, p->c + at * p->stride_c,
                          p->ldc) < 0)
            p->failed = 1;
    }
}

/* The same products as calling gemm on each: at float32 the batch's
 * products are shared out among the backend's threads, whole; a reduced
 * precision's emulation (its rounding scratch is the backend's, one of
 * each) runs them in turn. */
int cpu_gemm_strided_batched(backend *be, bool ta, bool tb, int m, int n, int k, float alpha,
                             const float *a, int lda, long long stride_a, const float *b, int ldb,
                             long long stride_b, float beta, float *c, int ldc, long long stride_c,
                             int batch)
{
    batch_pass p = {.be = be,
                    .ta = ta,
                    .tb = tb,
                    .m = m,
                    .n = n,
                    .k = k,
                    .lda = lda,
                    .ldb = ldb,
                    .ldc = ldc,
                    .alpha = alpha,
                    .beta = beta,
                    .a = a,
                    .b = b,
                    .c = c,
                    .stride_a = stride_a,
                    .stride_b = stride_b,
                    .stride_c = stride_c};
    cpu_workers *w = be->precision == PRECISION_FP32 ? cpu_workers_of(be) : NULL;
    cpu_workers_run(w, (size_t)(batch > 0 ? batch : 0),
                    product_grain((size_t)m * (size_t)n * (size_t)k), batch_part, &p);
    return p.failed ? -1 : 0;
}
