/* gemm: matrix products on the GPU through cuBLAS, on the compute stream
 * (the handle is bound to it when the backend opens). TF32 tensor cores
 * when run.tf32 is set (the handle's math mode). */
#include "kernels/cuda/cuda_impl.h"

/* cuBLAS is column-major: a row-major C = op(A) op(B) is the column-major
 * C^T = op(B)^T op(A)^T, so the operands swap places. */
int gpu_gemm(backend *be, bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    CUBLAS_TRY(cublasSgemm(impl_of(be)->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                           ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, ldb, a, lda, &beta,
                           c, ldc));
    return 0;
}

/* The same swap, every product of the batch in one cuBLAS call. */
int gpu_gemm_strided_batched(backend *be, bool ta, bool tb, int m, int n, int k, float alpha,
                             const float *a, int lda, long long stride_a, const float *b, int ldb,
                             long long stride_b, float beta, float *c, int ldc, long long stride_c,
                             int batch)
{
    if (batch == 0)
        return 0;
    CUBLAS_TRY(cublasSgemmStridedBatched(
        impl_of(be)->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
        &alpha, b, ldb, stride_b, a, lda, stride_a, &beta, c, ldc, stride_c, batch));
    return 0;
}
