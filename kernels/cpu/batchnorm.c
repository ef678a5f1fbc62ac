/* batchnorm: the CPU side of batch normalization's pieces (see backend.h):
 * per-channel sums in double, the normalizing forward, and the backward that
 * takes the (possibly all-rank) means of dz and dz * xhat. */
#include "kernels/cpu/cpu_ops.h"

int cpu_channel_sums(backend *be, const float *a, const float *b, int outer, int channels,
                     int inner, double *scratch, double *host)
{
    (void)be, (void)scratch;
    for (int c = 0; c < 2 * channels; c++)
        host[c] = 0.0;
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)o * channels + c) * inner;
            double s = 0.0, s2 = 0.0;
            for (int i = 0; i < inner; i++) {
                s += a[base + i];
                s2 += (double)a[base + i] * b[base + i];
            }
            host[c] += s;
            host[channels + c] += s2;
        }
    return 0;
}

int cpu_bn_forward(backend *be, const float *x, float *xhat, float *z, float *y, const float *mean,
                   const float *invstd, const float *gamma, const float *beta, int outer,
                   int channels, int inner, act_kind act)
{
    (void)be;
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)o * channels + c) * inner;
            for (int i = 0; i < inner; i++) {
                float h = (x[base + i] - mean[c]) * invstd[c];
                float v = gamma[c] * h + beta[c];
                xhat[base + i] = h;
                z[base + i] = v;
                y[base + i] = math_act(act, v);
            }
        }
    return 0;
}

int cpu_bn_backward(backend *be, const float *dz, const float *xhat, float *dx, const float *gamma,
                    const float *invstd, const float *mean_dz, const float *mean_dzxhat, int outer,
                    int channels, int inner)
{
    (void)be;
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)o * channels + c) * inner;
            float k = gamma[c] * invstd[c];
            for (int i = 0; i < inner; i++)
                dx[base + i] = k * (dz[base + i] - mean_dz[c] - xhat[base + i] * mean_dzxhat[c]);
        }
    return 0;
}
