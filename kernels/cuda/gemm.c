/* gemm: matrix products on the GPU through cuBLAS, on the compute stream
 * (the handle is bound to it when the backend opens). The inputs and output
 * are float32 at every precision; train.precision picks cuBLAS's compute
 * type: float32 on the FP32 lanes, or tensor cores fed TF32 or bfloat16
 * (cuBLAS converts the inputs as it loads them), accumulating in float32.
 * be->precision is what runs: fp32 on a GPU without TF32 and bf16 tensor
 * cores (gpucaps.h), whatever was asked. */
#include "kernels/cuda/cuda_impl.h"

static cublasComputeType_t compute_type(precision_kind p)
{
    switch (p) {
    case PRECISION_TF32:
        return CUBLAS_COMPUTE_32F_FAST_TF32;
    case PRECISION_BF16:
        return CUBLAS_COMPUTE_32F_FAST_16BF;
    default:
        return CUBLAS_COMPUTE_32F;
    }
}

/* cuBLAS is column-major: a row-major C = op(A) op(B) is the column-major
 * C^T = op(B)^T op(A)^T, so the operands swap places. */
int gpu_gemm(backend *be, bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    CUBLAS_TRY(cublasGemmEx(impl_of(be)->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                            ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, &alpha, b, CUDA_R_32F, ldb, a,
                            CUDA_R_32F, lda, &beta, c, CUDA_R_32F, ldc, compute_type(be->precision),
                            CUBLAS_GEMM_DEFAULT));
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
    CUBLAS_TRY(cublasGemmStridedBatchedEx(
        impl_of(be)->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
        &alpha, b, CUDA_R_32F, ldb, stride_b, a, CUDA_R_32F, lda, stride_a, &beta, c, CUDA_R_32F,
        ldc, stride_c, batch, compute_type(be->precision), CUBLAS_GEMM_DEFAULT));
    return 0;
}
