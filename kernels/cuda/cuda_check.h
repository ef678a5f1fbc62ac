/* cuda_check: every CUDA runtime and cuBLAS call is checked; a failure
 * becomes one line naming the call, the source location, CUDA's own words,
 * and what to do about it. */
#ifndef ACCEL_CUDA_CHECK_H
#define ACCEL_CUDA_CHECK_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#ifdef __cplusplus
extern "C" {
#endif

int cuda_fail(const char *call, cudaError_t e, const char *file, int line);
int cublas_fail(const char *call, cublasStatus_t s, const char *file, int line);
int cudnn_fail(const char *call, cudnnStatus_t s, const char *file, int line);

#define CUDA_TRY(call)                                                                             \
    do {                                                                                           \
        cudaError_t cuda_e_ = (call);                                                              \
        if (cuda_e_ != cudaSuccess)                                                                \
            return cuda_fail(#call, cuda_e_, __FILE__, __LINE__);                                  \
    } while (0)

#define CUDNN_TRY(call)                                                                            \
    do {                                                                                           \
        cudnnStatus_t cudnn_s_ = (call);                                                           \
        if (cudnn_s_ != CUDNN_STATUS_SUCCESS)                                                      \
            return cudnn_fail(#call, cudnn_s_, __FILE__, __LINE__);                                \
    } while (0)

#define CUBLAS_TRY(call)                                                                           \
    do {                                                                                           \
        cublasStatus_t cublas_s_ = (call);                                                         \
        if (cublas_s_ != CUBLAS_STATUS_SUCCESS)                                                    \
            return cublas_fail(#call, cublas_s_, __FILE__, __LINE__);                              \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif
