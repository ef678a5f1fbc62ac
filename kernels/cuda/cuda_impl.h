/* cuda_impl: the CUDA backend's state, shared by its host-side files
 * (backend_cuda.c, dnn.c). */
#ifndef ACCEL_CUDA_IMPL_H
#define ACCEL_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>
#include <stdbool.h>

#include "kernels/backend.h"
#include "kernels/cuda/cuda_check.h"

typedef struct {
    int device;
    cudaStream_t compute, copy;
    cublasHandle_t blas;
    cudnnHandle_t dnn;
    bool tf32;
    bool deterministic; /* cuDNN algorithms that repeat bitwise only */
    /* The convolutions' workspace: one, as large as the largest plan
     * needs; they run one at a time on the compute stream. */
    void *workspace;
    size_t workspace_bytes;
    cudaEvent_t ready[2], consumed[2];     /* input staging, per slot */
    cudaEvent_t timing[BACKEND_EVENTS];    /* step-time breakdown */
    double *sumsq_partials, *sumsq_result; /* device scratch for sumsq */
} cuda_impl;

static inline cuda_impl *impl_of(backend *be)
{
    return be->impl;
}

#define LAUNCH(launch)                                                                             \
    do {                                                                                           \
        cudaError_t launch_e_ = (launch);                                                          \
        if (launch_e_ != cudaSuccess)                                                              \
            return cuda_fail(#launch, launch_e_, __FILE__, __LINE__);                              \
    } while (0)

/* cuDNN's convolutions and poolings (dnn.c). */
int gpu_conv_plan(backend *be, const conv_geom *g, int train_rows, int max_rows, void **plan);
int gpu_conv_forward(backend *be, void *plan, const float *x, const float *w, float *y, int rows);
int gpu_conv_backward(backend *be, void *plan, const float *x, const float *w, const float *dy,
                      float *dw, float *dx, int rows);
int gpu_pool_plan(backend *be, const pool_geom *g, int max_rows, void **plan);
int gpu_pool_forward(backend *be, void *plan, const float *x, float *y, int rows);
int gpu_pool_backward(backend *be, void *plan, const float *x, const float *y, const float *dy,
                      float *dx, int rows);
void gpu_plan_release(backend *be, void *plan);

#endif
