// adam: one AdamW step over the flat parameter buffer in a single launch,
// each element through math_adam, the function the CPU backend runs.
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/launch.cuh"

__global__ void adam_kernel(float *p, const float *g, float *m, float *v, size_t n, adam_hyper h)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        math_adam(&p[i], g[i], &m[i], &v[i], &h);
}

extern "C" cudaError_t cuk_adam(cudaStream_t s, float *p, const float *g, float *m, float *v,
                                size_t n, adam_hyper h)
{
    if (n == 0)
        return cudaSuccess;
    adam_kernel<<<cuk_blocks(n), CUK_THREADS, 0, s>>>(p, g, m, v, n, h);
    return cudaGetLastError();
}
