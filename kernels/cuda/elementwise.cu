// elementwise: bias + activation forward, activation backward, the sum of
// two tensors, a thread per element through kernels/math.h; and dropout, a
// thread per four elements.
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

// A thread a Philox block: the block at counter g holds the four numbers of
// global indices 4g .. 4g + 3 (rng_block_at), which mask the elements
// there, so it is computed once for four elements, as the CPU draws it
// (kernels/cpu/dropout.c), not once for each. The masks are
// math_dropout_scale's, bit for bit.
__global__ void dropout_kernel(float *y, const float *x, size_t n, float rate, uint64_t seed,
                               uint32_t layer, uint32_t step, uint64_t first)
{
    uint64_t g0 = first >> 2, blocks = ((first + n + 3) >> 2) - g0;
    uint32_t stream = RNG_STREAM_DROPOUT | layer;
    for (uint64_t k = blockIdx.x * (uint64_t)blockDim.x + threadIdx.x; k < blocks;
         k += (uint64_t)gridDim.x * blockDim.x) {
        uint64_t at = (g0 + k) << 2; // the global index of its first number
        rng_block b = rng_block_at(seed, stream, step, at);
        for (int j = 0; j < 4; j++) {
            uint64_t i = at + (uint64_t)j - first; // wraps past n when at + j < first
            if (i < n)
                y[i] = x[i] * math_dropout_keep(rng_to_uniform(b.v[j]), rate);
        }
    }
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
    size_t blocks = (size_t)(((first + n + 3) >> 2) - (first >> 2));
    dropout_kernel<<<cuk_blocks(blocks), CUK_THREADS, 0, stream_of(be)>>>(y, x, n, rate, seed,
                                                                          layer, step, first);
    return KERNEL_LAUNCHED(dropout_kernel);
}

// The mask is its own derivative.
extern "C" int gpu_dropout_backward(backend *be, float *dx, const float *dy, size_t n, float rate,
                                    uint64_t seed, uint32_t layer, uint32_t step, uint64_t first)
{
    return gpu_dropout_forward(be, dx, dy, n, rate, seed, layer, step, first);
}
