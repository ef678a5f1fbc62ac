// elementwise: bias + activation forward, activation backward, the sum of
// two tensors and dropout, a thread per element through kernels/math.h.
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"

__global__ void bias_act_forward_kernel(float *z, float *y, const float *bias, size_t n,
                                        int channels, int inner, act_kind act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        float v = z[i] + (bias ? bias[(i / inner) % channels] : 0.0f);
        z[i] = v;
        y[i] = math_act(act, v);
    }
}

__global__ void add_kernel(float *y, const float *a, const float *b, size_t n)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        y[i] = a[i] + b[i];
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

extern "C" int gpu_bias_act_forward(backend *be, float *z, float *y, const float *bias, int outer,
                                    int channels, int inner, act_kind act)
{
    size_t n = (size_t)outer * channels * inner;
    if (n == 0)
        return 0;
    bias_act_forward_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(z, y, bias, n,
                                                                              channels, inner, act);
    return KERNEL_LAUNCHED(bias_act_forward_kernel);
}

extern "C" int gpu_add(backend *be, float *y, const float *a, const float *b, size_t n)
{
    if (n == 0)
        return 0;
    add_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(y, a, b, n);
    return KERNEL_LAUNCHED(add_kernel);
}

extern "C" int gpu_act_backward(backend *be, float *dz, const float *dy, const float *z,
                                const float *y, size_t n, act_kind act)
{
    if (n == 0)
        return 0;
    act_backward_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(dz, dy, z, y, n, act);
    return KERNEL_LAUNCHED(act_backward_kernel);
}

extern "C" int gpu_dropout_forward(backend *be, float *y, const float *x, size_t n, float rate,
                                   uint64_t seed, uint32_t layer, uint32_t step, uint64_t first)
{
    if (n == 0)
        return 0;
    dropout_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(y, x, n, rate, seed, layer,
                                                                     step, first);
    return KERNEL_LAUNCHED(dropout_kernel);
}

// The mask is its own derivative.
extern "C" int gpu_dropout_backward(backend *be, float *dx, const float *dy, size_t n, float rate,
                                    uint64_t seed, uint32_t layer, uint32_t step, uint64_t first)
{
    return gpu_dropout_forward(be, dx, dy, n, rate, seed, layer, step, first);
}
