// bias_grad: db[c] = sum over outer and inner of dz[o][c][i]. For flat rows
// (inner 1) the column sums of colsum.cuh: the rows cut into fixed ranges,
// a thread a column and range (neighbouring columns in a warp, so loads
// coalesce), then the ranges' partials added in order. For planes
// (convolutions) a block per channel reduces the channel's planes. Both
// add in a fixed order, so results repeat bit for bit.
#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

// part[k][c] = the sum of dz[r][c] over range k (blockIdx.y) of the rows.
__global__ void bias_grad_rows_kernel(float *part, const float *dz, int rows, int cols, int ranges)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols)
        return;
    int from, to;
    colsum_range(rows, ranges, blockIdx.y, &from, &to);
    float sum = 0.0f;
    for (int r = from; r < to; r++)
        sum += dz[(size_t)r * cols + c];
    part[(size_t)blockIdx.y * cols + c] = sum;
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
        int ranges = colsum_ranges(outer, channels, 1);
        float *part = ranges > 1 ? impl_of(be)->colsum_partials : db;
        dim3 grid((unsigned)((channels + CUK_THREADS - 1) / CUK_THREADS), (unsigned)ranges);
        bias_grad_rows_kernel<<<grid, CUK_THREADS, 0, s>>>(part, dz, outer, channels, ranges);
        if (KERNEL_LAUNCHED(bias_grad_rows_kernel) < 0)
            return -1;
        return ranges > 1 ? colsum_finish(s, part, db, ranges, channels) : 0;
    }
    bias_grad_planes_kernel<<<channels, CUK_THREADS, 0, s>>>(db, dz, outer, channels, inner);
    return KERNEL_LAUNCHED(bias_grad_planes_kernel);
}
