/* reduce: a block-wide sum in double, shared by the reduction kernels. The
 * order of additions is fixed by the block's shape, so results repeat bit
 * for bit. blockDim.x must be a multiple of 32, at most 1024. */
#ifndef ACCEL_CUDA_REDUCE_CUH
#define ACCEL_CUDA_REDUCE_CUH

/* The sum of v over the block, valid in thread 0. Uses `scratch` (32
 * doubles of shared memory); call __syncthreads() before reusing it. */
static __device__ double block_sum(double v, double *scratch)
{
    for (int off = 16; off > 0; off /= 2)
        v += __shfl_down_sync(0xffffffffu, v, off);
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    if (lane == 0)
        scratch[warp] = v;
    __syncthreads();
    v = threadIdx.x < blockDim.x / 32 ? scratch[lane] : 0.0;
    if (warp == 0)
        for (int off = 16; off > 0; off /= 2)
            v += __shfl_down_sync(0xffffffffu, v, off);
    return v;
}

#endif
