// sumsq: the squared L2 norm of a flat buffer, in double, in two passes:
// each of CUK_SUMSQ_BLOCKS blocks reduces a fixed, strided share into one
// partial, then one block adds the partials in order. No atomics, so the
// result is the same bits on every run.
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

__global__ void sumsq_partial_kernel(const float *x, size_t n, double *partials)
{
    double acc = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        acc += (double)x[i] * x[i];
    __shared__ double scratch[32];
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0)
        partials[blockIdx.x] = acc;
}

__global__ void sumsq_final_kernel(const double *partials, double *result)
{
    double v = threadIdx.x < CUK_SUMSQ_BLOCKS ? partials[threadIdx.x] : 0.0;
    __shared__ double scratch[32];
    v = block_sum(v, scratch);
    if (threadIdx.x == 0)
        *result = v;
}

extern "C" cudaError_t cuk_sumsq(cudaStream_t s, const float *x, size_t n, double *partials,
                                 double *result)
{
    sumsq_partial_kernel<<<CUK_SUMSQ_BLOCKS, CUK_THREADS, 0, s>>>(x, n, partials);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        return e;
    sumsq_final_kernel<<<1, CUK_SUMSQ_BLOCKS, 0, s>>>(partials, result);
    return cudaGetLastError();
}
