// layernorm: layer normalization over the last axis on the GPU
// (kernels/cpu/layernorm.c is the reference), a block per row for the
// forward pass and for dx, the column sums of colsum.cuh for dg and db (a
// thread a channel and range of rows, then the ranges in order).
//
// The arithmetic is the CPU's, operation for operation: the row's sums in
// double (in another order: the block's), the mean and 1/std from them in
// double, and every float product and sum rounded on its own (__fmul_rn,
// __fadd_rn: nvcc would otherwise fuse them into multiply-adds, which the
// CPU build does not). y and dx differ from the CPU's only where the
// double sums round differently, which is rare; dg and db add the rows in
// ranges, not in one pass as the CPU does, so they are its within rounding
// (and the same bits on every run).
#include "kernels/cuda/colsum.cuh"
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/reduce.cuh"

static const int LN_THREADS = 256;
static const int LN_CHANNELS = 32; // a block of dg, db

__global__ void layernorm_forward_kernel(const float *x, const float *g, const float *b, float *y,
                                         float *mean, float *rstd, int c, float eps)
{
    __shared__ double scratch[32];
    __shared__ float stat[2];
    const float *in = x + (size_t)blockIdx.x * c;
    double s = 0.0, s2 = 0.0;
    for (int i = threadIdx.x; i < c; i += blockDim.x) {
        s += in[i];
        s2 += (double)in[i] * in[i];
    }
    s = block_sum(s, scratch);
    __syncthreads();
    s2 = block_sum(s2, scratch);
    if (threadIdx.x == 0) {
        double mu = s / c, var = s2 / c - mu * mu;
        stat[0] = (float)mu;
        stat[1] = (float)(1.0 / sqrt((var > 0.0 ? var : 0.0) + eps));
        mean[blockIdx.x] = stat[0];
        rstd[blockIdx.x] = stat[1];
    }
    __syncthreads();
    float m = stat[0], k = stat[1];
    float *out = y + (size_t)blockIdx.x * c;
    for (int i = threadIdx.x; i < c; i += blockDim.x)
        out[i] = __fadd_rn(__fmul_rn(__fmul_rn(in[i] - m, k), g[i]), b[i]);
}

// dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy g.
__global__ void layernorm_dx_kernel(const float *dy, const float *x, const float *g,
                                    const float *mean, const float *rstd, float *dx, int c)
{
    __shared__ double scratch[32];
    __shared__ float stat[2];
    size_t at = (size_t)blockIdx.x * c;
    const float *in = x + at, *d = dy + at;
    float m = mean[blockIdx.x], k = rstd[blockIdx.x];
    double s = 0.0, sx = 0.0;
    for (int i = threadIdx.x; i < c; i += blockDim.x) {
        float xhat = __fmul_rn(in[i] - m, k), dxhat = __fmul_rn(d[i], g[i]);
        s += dxhat;
        sx += (double)dxhat * xhat;
    }
    s = block_sum(s, scratch);
    __syncthreads();
    sx = block_sum(sx, scratch);
    if (threadIdx.x == 0) {
        stat[0] = (float)(s / c);
        stat[1] = (float)(sx / c);
    }
    __syncthreads();
    float ms = stat[0], msx = stat[1];
    float *out = dx + at;
    for (int i = threadIdx.x; i < c; i += blockDim.x) {
        float xhat = __fmul_rn(in[i] - m, k);
        out[i] = __fmul_rn(k, __fsub_rn(__fmul_rn(d[i], g[i]) - ms, __fmul_rn(xhat, msx)));
    }
}

// Over range k (blockIdx.y) of the rows, in order: pg[k][i] = the sum of
// dy xhat, pb[k][i] = the sum of dy (dg's and db's partials).
__global__ void layernorm_dgdb_kernel(const float *dy, const float *x, const float *mean,
                                      const float *rstd, float *pg, float *pb, int n, int c,
                                      int ranges)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= c)
        return;
    int from, to;
    colsum_range(n, ranges, blockIdx.y, &from, &to);
    float sg = 0.0f, sb = 0.0f;
    for (int r = from; r < to; r++) {
        size_t at = (size_t)r * c + i;
        float xhat = __fmul_rn(x[at] - mean[r], rstd[r]);
        sg = __fadd_rn(sg, __fmul_rn(dy[at], xhat));
        sb = __fadd_rn(sb, dy[at]);
    }
    size_t out = (size_t)blockIdx.y * c + i;
    pg[out] = sg;
    pb[out] = sb;
}

extern "C" int gpu_layernorm_forward(backend *be, const float *x, const float *g, const float *b,
                                     float *y, float *mean, float *rstd, int n, int c, float eps)
{
    if (n == 0)
        return 0;
    layernorm_forward_kernel<<<n, LN_THREADS, 0, stream_of(be)>>>(x, g, b, y, mean, rstd, c, eps);
    return KERNEL_LAUNCHED(layernorm_forward_kernel);
}

extern "C" int gpu_layernorm_backward(backend *be, const float *dy, const float *x, const float *g,
                                      const float *mean, const float *rstd, float *dx, float *dg,
                                      float *db, int n, int c)
{
    if (c == 0)
        return 0;
    cudaStream_t s = stream_of(be);
    int ranges = colsum_ranges(n, c, 2);
    float *pg = dg, *pb = db; /* one range: the sums themselves */
    if (ranges > 1) {
        pg = impl_of(be)->colsum_partials;
        pb = pg + (size_t)ranges * c;
    }
    dim3 grid((unsigned)((c + LN_CHANNELS - 1) / LN_CHANNELS), (unsigned)ranges);
    layernorm_dgdb_kernel<<<grid, LN_CHANNELS, 0, s>>>(dy, x, mean, rstd, pg, pb, n, c, ranges);
    if (KERNEL_LAUNCHED(layernorm_dgdb_kernel) < 0)
        return -1;
    if (ranges > 1 &&
        (colsum_finish(s, pg, dg, ranges, c) < 0 || colsum_finish(s, pb, db, ranges, c) < 0))
        return -1;
    if (!dx || n == 0)
        return 0;
    layernorm_dx_kernel<<<n, LN_THREADS, 0, s>>>(dy, x, g, mean, rstd, dx, c);
    return KERNEL_LAUNCHED(layernorm_dx_kernel);
}
