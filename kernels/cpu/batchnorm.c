/* batchnorm: the CPU side of batch normalization's pieces (see backend.h):
 * per-channel sums in double, the statistics made of them, the normalizing
 * forward, and the backward that takes the (possibly all-rank) means of dz
 * and dz * xhat. Each works a channel's plane at a time (inner contiguous
 * floats), in vector loops. */
#include "kernels/cpu/cpu_ops.h"

int cpu_channel_sums(backend *be, const float *a, const float *b, int outer, int channels,
                     int inner, double *sums)
{
    (void)be;
    for (int c = 0; c < 2 * channels; c++)
        sums[c] = 0.0;
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)o * channels + c) * inner;
            double sa, sab;
            cpu_sums(a + base, b + base, (size_t)inner, &sa, &sab);
            sums[c] += sa;
            sums[channels + c] += sab;
        }
    return 0;
}

int cpu_bn_stats(backend *be, const double *sums, double count, int channels, double eps,
                 double momentum, float *mean, float *invstd, float *run_mean, float *run_var)
{
    (void)be;
    for (int c = 0; c < channels; c++)
        math_bn_stats(sums ? sums + c : NULL, sums ? sums + channels + c : NULL, count, eps,
                      momentum, mean + c, invstd + c, run_mean + c, run_var + c);
    return 0;
}

int cpu_sums_to_float(backend *be, float *out, const double *sums, size_t n, double divisor)
{
    (void)be;
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(sums[i] / divisor);
    return 0;
}

/* One plane of the forward: y = act(gamma xhat + beta). The activation's
 * switch stays outside the loops, so that ReLU and none vectorize. */
CPU_SIMD static void bn_plane(const float *restrict x, float *restrict xhat, float *restrict y,
                              int n, float mean, float invstd, float gamma, float beta,
                              act_kind act)
{
    if (act == ACT_RELU) {
        for (int i = 0; i < n; i++) {
            float h = (x[i] - mean) * invstd, v = gamma * h + beta;
            xhat[i] = h;
            y[i] = v > 0.0f ? v : 0.0f;
        }
        return;
    }
    if (act == ACT_NONE) {
        for (int i = 0; i < n; i++) {
            float h = (x[i] - mean) * invstd;
            xhat[i] = h;
            y[i] = gamma * h + beta;
        }
        return;
    }
    for (int i = 0; i < n; i++) {
        xhat[i] = (x[i] - mean) * invstd;
        y[i] = math_act(act, gamma * xhat[i] + beta);
    }
}

int cpu_bn_forward(backend *be, const float *x, float *xhat, float *z, float *y, const float *mean,
                   const float *invstd, const float *gamma, const float *beta, int outer,
                   int channels, int inner, act_kind act)
{
    (void)be;
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)o * channels + c) * inner;
            bn_plane(x + base, xhat + base, y + base, inner, mean[c], invstd[c], gamma[c], beta[c],
                     act);
            /* z is y unless the activation's gradient needs its input */
            if (z != y)
                bn_plane(x + base, xhat + base, z + base, inner, mean[c], invstd[c], gamma[c],
                         beta[c], ACT_NONE);
        }
    return 0;
}

CPU_SIMD static void bn_back_plane(const float *restrict dz, const float *restrict xhat,
                                   float *restrict dx, int n, float k, float mean_dz,
                                   float mean_dzxhat)
{
    for (int i = 0; i < n; i++)
        dx[i] = k * (dz[i] - mean_dz - xhat[i] * mean_dzxhat);
}

int cpu_bn_backward(backend *be, const float *dz, const float *xhat, float *dx, const float *gamma,
                    const float *invstd, const float *mean_dz, const float *mean_dzxhat, int outer,
                    int channels, int inner)
{
    (void)be;
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)o * channels + c) * inner;
            bn_back_plane(dz + base, xhat + base, dx + base, inner, gamma[c] * invstd[c],
                          mean_dz[c], mean_dzxhat[c]);
        }
    return 0;
}
