// bias_grad: db[c] = sum over rows of dz[r][c]. One thread per column; the
// threads of a warp read neighbouring columns of a row, so loads coalesce,
// and each column is summed in row order, so results do not vary run to run.
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/launch.cuh"

__global__ void bias_grad_kernel(float *db, const float *dz, int rows, int cols)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols)
        return;
    float sum = 0.0f;
    for (int r = 0; r < rows; r++)
        sum += dz[(size_t)r * cols + c];
    db[c] = sum;
}

extern "C" cudaError_t cuk_bias_grad(cudaStream_t s, float *db, const float *dz, int rows, int cols)
{
    if (cols == 0)
        return cudaSuccess;
    unsigned blocks = (unsigned)((cols + CUK_THREADS - 1) / CUK_THREADS);
    bias_grad_kernel<<<blocks, CUK_THREADS, 0, s>>>(db, dz, rows, cols);
    return cudaGetLastError();
}
