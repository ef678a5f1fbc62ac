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
