// xent: softmax cross-entropy forward and backward in one pass, one thread
// per row through math_xent_row, the very function the CPU backend calls.
// Rows are few (a batch) and classes a handful, so a row per thread keeps
// the arithmetic identical to the CPU's at no cost that matters.
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"

__global__ void xent_kernel(const float *z, const int32_t *labels, int rows, int cols, float scale,
                            float *dz, float *stats)
{
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows)
        return;
    int pred;
    float *dr = dz ? dz + (size_t)r * cols : NULL;
    stats[2 * r] = math_xent_row(z + (size_t)r * cols, cols, labels[r], scale, dr, &pred);
    stats[2 * r + 1] = pred == labels[r] ? 1.0f : 0.0f;
}

extern "C" int gpu_xent(backend *be, const float *z, const int32_t *labels, int rows, int cols,
                        float scale, float *dz, float *stats)
{
    if (rows == 0)
        return 0;
    unsigned blocks = (unsigned)((rows + CUK_THREADS - 1) / CUK_THREADS);
    xent_kernel<<<blocks, CUK_THREADS, 0, stream_of(be)>>>(z, labels, rows, cols, scale, dz, stats);
    return KERNEL_LAUNCHED(xent_kernel);
}
