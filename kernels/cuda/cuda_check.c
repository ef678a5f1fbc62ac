#include "kernels/cuda/cuda_check.h"

#include "util/err.h"

/* What a person can do about the common failures. */
static const char *cuda_advice(cudaError_t e)
{
    switch (e) {
    case cudaErrorMemoryAllocation:
        return "; the GPU is out of memory: lower data.batch_size or data.eval_batch_size, or "
               "free the GPU";
    case cudaErrorNoDevice:
    case cudaErrorInvalidDevice:
        return "; check CUDA_VISIBLE_DEVICES and nvidia-smi";
    case cudaErrorInsufficientDriver:
        return "; the NVIDIA driver is missing or older than this CUDA: update it, or use "
               "run.device = cpu";
    default:
        return "";
    }
}

int cuda_fail(const char *call, cudaError_t e, const char *file, int line)
{
    return err_set("%s failed (%s:%d): %s: %s%s", call, file, line, cudaGetErrorName(e),
                   cudaGetErrorString(e), cuda_advice(e));
}

int cublas_fail(const char *call, cublasStatus_t s, const char *file, int line)
{
    return err_set("%s failed (%s:%d): %s%s", call, file, line, cublasGetStatusString(s),
                   s == CUBLAS_STATUS_ALLOC_FAILED ? "; the GPU is out of memory" : "");
}

int cudnn_fail(const char *call, cudnnStatus_t s, const char *file, int line)
{
    return err_set("%s failed (%s:%d): %s%s", call, file, line, cudnnGetErrorString(s),
                   s == CUDNN_STATUS_ALLOC_FAILED ? "; the GPU is out of memory" : "");
}
