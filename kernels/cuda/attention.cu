// attention: the causal softmax of self-attention on the GPU
// (kernels/cpu/attention.c is the reference), a warp per row of scores: row
// i of each T x T matrix keeps columns 0..i, the rest become 0. The
// matrix products around it are cuBLAS's (gemm, gemm_strided_batched).
//
// e^x is math.h's math_expf, the CPU's, and each product and difference is
// rounded on its own as on the CPU (__fmul_rn, __fsub_rn), so the two
// differ by the order of the row's sums (32 lanes here, 16 there) and by
// math_expf's polynomial, which nvcc evaluates with fused multiply-adds: a
// few ulp.
#include "kernels/cuda/cuda_impl.h"

static const int SOFTMAX_THREADS = 256; // 8 rows a block

static __device__ float warp_max(float v)
{
    for (int off = 16; off > 0; off /= 2) {
        float o = __shfl_xor_sync(0xffffffffu, v, off);
        v = o > v ? o : v;
    }
    return v;
}

static __device__ float warp_sum(float v)
{
    for (int off = 16; off > 0; off /= 2)
        v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}

// Rows of t scores; row r sees columns 0..pos, or 0..r % t when pos < 0.
__global__ void causal_softmax_kernel(float *att, size_t rows, int t, float scale, int pos)
{
    size_t r = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (r >= rows) // the whole warp leaves together
        return;
    float *a = att + r * t;
    int last = pos >= 0 ? pos : (int)(r % t);
    float max = -INFINITY;
    for (int j = lane; j <= last; j += 32) {
        float v = __fmul_rn(a[j], scale);
        max = v > max ? v : max;
    }
    max = warp_max(max);
    float sum = 0.0f;
    for (int j = lane; j <= last; j += 32) {
        float e = math_expf(__fsub_rn(__fmul_rn(a[j], scale), max));
        a[j] = e;
        sum += e;
    }
    float inv = 1.0f / warp_sum(sum);
    for (int j = lane; j < t; j += 32)
        a[j] = j <= last ? __fmul_rn(a[j], inv) : 0.0f;
}

// d scores = scale * att * (d att - sum_j d att_j att_j); masked ones 0.
__global__ void causal_softmax_backward_kernel(float *datt, const float *att, size_t rows, int t,
                                               float scale)
{
    size_t r = (blockIdx.x * (size_t)blockDim.x + threadIdx.x) / 32;
    int lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    float *d = datt + r * t;
    const float *a = att + r * t;
    int last = (int)(r % t);
    float dot = 0.0f;
    for (int j = lane; j <= last; j += 32)
        dot = __fadd_rn(dot, __fmul_rn(d[j], a[j]));
    dot = warp_sum(dot);
    for (int j = lane; j < t; j += 32)
        d[j] = j <= last ? __fmul_rn(__fmul_rn(scale, a[j]), __fsub_rn(d[j], dot)) : 0.0f;
}

static unsigned row_blocks(size_t rows)
{
    return (unsigned)((rows * 32 + SOFTMAX_THREADS - 1) / SOFTMAX_THREADS);
}

extern "C" int gpu_causal_softmax(backend *be, float *att, int n, int t, float scale)
{
    size_t rows = (size_t)n * t;
    if (rows == 0)
        return 0;
    causal_softmax_kernel<<<row_blocks(rows), SOFTMAX_THREADS, 0, stream_of(be)>>>(att, rows, t,
                                                                                   scale, -1);
    return KERNEL_LAUNCHED(causal_softmax_kernel);
}

extern "C" int gpu_causal_softmax_row(backend *be, float *row, int pos, int t, float scale)
{
    causal_softmax_kernel<<<1, 32, 0, stream_of(be)>>>(row, 1, t, scale, pos);
    return KERNEL_LAUNCHED(causal_softmax_kernel);
}

extern "C" int gpu_causal_softmax_backward(backend *be, float *datt, const float *att, int n, int t,
                                           float scale)
{
    size_t rows = (size_t)n * t;
    if (rows == 0)
        return 0;
    causal_softmax_backward_kernel<<<row_blocks(rows), SOFTMAX_THREADS, 0, stream_of(be)>>>(
        datt, att, rows, t, scale);
    return KERNEL_LAUNCHED(causal_softmax_backward_kernel);
}
