// sumsq: the squared L2 norm of a flat buffer, in double, in two passes:
// each of CUK_SUMSQ_BLOCKS blocks reduces a fixed, strided share into one
// partial, then one block adds the partials in order. No atomics, so the
// result is the same bits on every run. The partials and the result live
// in the backend's scratch (cuda_impl), allocated when it opens.
#include "kernels/cuda/cuda_impl.h"
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

extern "C" int gpu_sumsq(backend *be, const float *x, size_t n, double *out)
{
    cuda_impl *c = impl_of(be);
    sumsq_partial_kernel<<<CUK_SUMSQ_BLOCKS, CUK_THREADS, 0, c->compute>>>(x, n, c->sumsq_partials);
    if (KERNEL_LAUNCHED(sumsq_partial_kernel) < 0)
        return -1;
    sumsq_final_kernel<<<1, CUK_SUMSQ_BLOCKS, 0, c->compute>>>(c->sumsq_partials, c->sumsq_result);
    if (KERNEL_LAUNCHED(sumsq_final_kernel) < 0)
        return -1;
    CUDA_TRY(
        cudaMemcpyAsync(out, c->sumsq_result, sizeof *out, cudaMemcpyDeviceToHost, c->compute));
    CUDA_TRY(cudaStreamSynchronize(c->compute));
    return 0;
}
