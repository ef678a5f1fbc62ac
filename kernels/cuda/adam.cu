// adam: one AdamW step over the flat parameter buffer in a single launch,
// each element through math_adam, the function the CPU backend runs.
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"

__global__ void adam_kernel(float *p, const float *g, float *m, float *v, size_t n, adam_hyper h)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        math_adam(&p[i], g[i], &m[i], &v[i], &h);
}

extern "C" int gpu_adam(backend *be, float *p, const float *g, float *m, float *v, size_t n,
                        const adam_hyper *h)
{
    if (n == 0)
        return 0;
    // h by value: the kernel's arguments are copied at the launch
    adam_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(p, g, m, v, n, *h);
    return KERNEL_LAUNCHED(adam_kernel);
}
