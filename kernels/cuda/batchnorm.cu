// batchnorm: the GPU side of batch normalization's pieces (see backend.h):
// per-channel sums in double (a block per channel, a fixed order), the
// statistics made of them on the device (so no step waits for the host),
// the normalizing forward and the backward, elementwise.
#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/launch.cuh"
#include "kernels/cuda/reduce.cuh"

__global__ void channel_sums_kernel(const float *a, const float *b, int outer, int channels,
                                    int inner, double *out)
{
    __shared__ double scratch[32];
    int c = blockIdx.x;
    double s = 0.0, s2 = 0.0;
    size_t per = (size_t)outer * inner;
    for (size_t k = threadIdx.x; k < per; k += blockDim.x) {
        size_t at = (k / inner * channels + c) * inner + k % inner;
        s += a[at];
        s2 += (double)a[at] * b[at];
    }
    s = block_sum(s, scratch);
    __syncthreads();
    s2 = block_sum(s2, scratch);
    if (threadIdx.x == 0) {
        out[c] = s;
        out[channels + c] = s2;
    }
}

__global__ void bn_stats_kernel(const double *sums, double count, int channels, double eps,
                                double momentum, float *mean, float *invstd, float *run_mean,
                                float *run_var)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c < channels)
        math_bn_stats(sums ? sums + c : NULL, sums ? sums + channels + c : NULL, count, eps,
                      momentum, mean + c, invstd + c, run_mean + c, run_var + c);
}

__global__ void sums_to_float_kernel(float *out, const double *sums, size_t n, double divisor)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = (float)(sums[i] / divisor);
}

__global__ void bn_forward_kernel(const float *x, float *xhat, float *z, float *y,
                                  const float *mean, const float *invstd, const float *gamma,
                                  const float *beta, size_t n, int channels, int inner,
                                  act_kind act)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)((i / inner) % channels);
        float h = (x[i] - mean[c]) * invstd[c];
        float v = gamma[c] * h + beta[c];
        xhat[i] = h;
        z[i] = v;
        y[i] = math_act(act, v);
    }
}

__global__ void bn_backward_kernel(const float *dz, const float *xhat, float *dx,
                                   const float *gamma, const float *invstd, const float *mean_dz,
                                   const float *mean_dzxhat, size_t n, int channels, int inner)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        int c = (int)((i / inner) % channels);
        dx[i] = gamma[c] * invstd[c] * (dz[i] - mean_dz[c] - xhat[i] * mean_dzxhat[c]);
    }
}

extern "C" int gpu_channel_sums(backend *be, const float *a, const float *b, int outer,
                                int channels, int inner, double *sums)
{
    if (channels == 0)
        return 0;
    channel_sums_kernel<<<channels, CUK_THREADS, 0, stream_of(be)>>>(a, b, outer, channels, inner,
                                                                     sums);
    return KERNEL_LAUNCHED(channel_sums_kernel);
}

extern "C" int gpu_bn_stats(backend *be, const double *sums, double count, int channels, double eps,
                            double momentum, float *mean, float *invstd, float *run_mean,
                            float *run_var)
{
    if (channels == 0)
        return 0;
    bn_stats_kernel<<<cuk_blocks((size_t)channels), CUK_THREADS, 0, stream_of(be)>>>(
        sums, count, channels, eps, momentum, mean, invstd, run_mean, run_var);
    return KERNEL_LAUNCHED(bn_stats_kernel);
}

extern "C" int gpu_sums_to_float(backend *be, float *out, const double *sums, size_t n,
                                 double divisor)
{
    if (n == 0)
        return 0;
    sums_to_float_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(out, sums, n, divisor);
    return KERNEL_LAUNCHED(sums_to_float_kernel);
}

extern "C" int gpu_bn_forward(backend *be, const float *x, float *xhat, float *z, float *y,
                              const float *mean, const float *invstd, const float *gamma,
                              const float *beta, int outer, int channels, int inner, act_kind act)
{
    size_t n = (size_t)outer * channels * inner;
    if (n == 0)
        return 0;
    bn_forward_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(
        x, xhat, z, y, mean, invstd, gamma, beta, n, channels, inner, act);
    return KERNEL_LAUNCHED(bn_forward_kernel);
}

extern "C" int gpu_bn_backward(backend *be, const float *dz, const float *xhat, float *dx,
                               const float *gamma, const float *invstd, const float *mean_dz,
                               const float *mean_dzxhat, int outer, int channels, int inner)
{
    size_t n = (size_t)outer * channels * inner;
    if (n == 0)
        return 0;
    bn_backward_kernel<<<cuk_blocks(n), CUK_THREADS, 0, stream_of(be)>>>(
        dz, xhat, dx, gamma, invstd, mean_dz, mean_dzxhat, n, channels, inner);
    return KERNEL_LAUNCHED(bn_backward_kernel);
}
