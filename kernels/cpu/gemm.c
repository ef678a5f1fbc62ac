/* gemm: matrix products on the CPU, OpenBLAS's sgemm on row-major
 * matrices. */
#include <cblas.h>

#include "kernels/cpu/cpu_ops.h"

int cpu_gemm(backend *be, bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    (void)be;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
    return 0;
}

/* A loop of the same sgemm calls, one per product, in order: the results
 * are those of calling gemm on each. */
int cpu_gemm_strided_batched(backend *be, bool ta, bool tb, int m, int n, int k, float alpha,
                             const float *a, int lda, long long stride_a, const float *b, int ldb,
                             long long stride_b, float beta, float *c, int ldc, long long stride_c,
                             int batch)
{
    for (int i = 0; i < batch; i++)
        cpu_gemm(be, ta, tb, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b, ldb, beta,
                 c + i * stride_c, ldc);
    return 0;
}
