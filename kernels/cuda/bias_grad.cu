// bias_grad: db[c] = sum over outer and inner of dz[o][c][i]. For flat rows
// (inner 1) a thread per column: the threads of a warp read neighbouring
// columns of a row, so loads coalesce. For planes (convolutions) a block per
// channel reduces the channel's planes. Both add in a fixed order, so
// results repeat bit for bit.
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

__global__ void bias_grad_rows_kernel(float *db, const float *dz, int rows, int cols)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols)
        return;
    float sum = 0.0f;
    for (int r = 0; r < rows; r++)
        sum += dz[(size_t)r * cols + c];
    db[c] = sum;
}

__global__ void bias_grad_planes_kernel(float *db, const float *dz, int outer, int channels,
                                        int inner)
{
    __shared__ double scratch[32];
    int c = blockIdx.x;
    double acc = 0.0;
    size_t per = (size_t)outer * inner;
    for (size_t k = threadIdx.x; k < per; k += blockDim.x) {
        size_t o = k / inner, i = k % inner;
        acc += dz[(o * channels + c) * inner + i];
    }
    acc = block_sum(acc, scratch);
    if (threadIdx.x == 0)
        db[c] = (float)acc;
}

extern "C" int gpu_bias_grad(backend *be, float *db, const float *dz, int outer, int channels,
                             int inner)
{
    if (channels == 0)
        return 0;
    cudaStream_t s = stream_of(be);
    if (inner == 1) {
        unsigned blocks = (unsigned)((channels + CUK_THREADS - 1) / CUK_THREADS);
        bias_grad_rows_kernel<<<blocks, CUK_THREADS, 0, s>>>(db, dz, outer, channels);
        return KERNEL_LAUNCHED(bias_grad_rows_kernel);
    }
    bias_grad_planes_kernel<<<channels, CUK_THREADS, 0, s>>>(db, dz, outer, channels, inner);
    return KERNEL_LAUNCHED(bias_grad_planes_kernel);
}
