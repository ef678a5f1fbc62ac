// elementwise: bias + activation forward, activation backward, dropout.
#include "kernels/cuda/kernels.h"
#include "kernels/cuda/launch.cuh"

__global__ void bias_act_forward_kernel(float *z, float *y, const float *bias, int rows, int cols,
                                        act_kind act)
{
    size_t n = (size_t)rows * cols;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = z[i] + bias[i % cols];
        z[i] = v;
        y[i] = math_act(act, v);
    }
}

__global__ void act_backward_kernel(float *dz, const float *dy, const float *z, const float *y,
                                    size_t n, act_kind act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dz[i] = dy[i] * math_act_grad(act, z[i], y[i]);
}

__global__ void dropout_kernel(float *y, const float *x, size_t n, float rate, uint64_t seed,
                               uint32_t layer, uint32_t step, uint64_t first)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = x[i] * math_dropout_scale(seed, layer, step, first + i, rate);
}

extern "C" cudaError_t cuk_bias_act_forward(cudaStream_t s, float *z, float *y, const float *bias,
                                            int rows, int cols, act_kind act)
{
    size_t n = (size_t)rows * cols;
    if (n == 0)
        return cudaSuccess;
    bias_act_forward_kernel<<<cuk_blocks(n), CUK_THREADS, 0, s>>>(z, y, bias, rows, cols, act);
    return cudaGetLastError();
}

extern "C" cudaError_t cuk_act_backward(cudaStream_t s, float *dz, const float *dy, const float *z,
                                        const float *y, size_t n, act_kind act)
{
    if (n == 0)
        return cudaSuccess;
    act_backward_kernel<<<cuk_blocks(n), CUK_THREADS, 0, s>>>(dz, dy, z, y, n, act);
    return cudaGetLastError();
}

extern "C" cudaError_t cuk_dropout(cudaStream_t s, float *y, const float *x, size_t n, float rate,
                                   uint64_t seed, uint32_t layer, uint32_t step, uint64_t first)
{
    if (n == 0)
        return cudaSuccess;
    dropout_kernel<<<cuk_blocks(n), CUK_THREADS, 0, s>>>(y, x, n, rate, seed, layer, step, first);
    return cudaGetLastError();
}
