/* layernorm: layer normalization over the last axis on the CPU (see
 * backend.h), as PyTorch's LayerNorm: the biased variance, eps inside the
 * square root. Statistics in double; a row's mean and 1/std are kept for
 * the backward pass. */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

int cpu_layernorm_forward(backend *be, const float *x, const float *g, const float *b, float *y,
                          float *mean, float *rstd, int n, int c, float eps)
{
    (void)be;
    for (int r = 0; r < n; r++) {
        const float *in = x + (size_t)r * c;
        double s, s2;
        cpu_sums(in, in, (size_t)c, &s, &s2);
        double mu = s / c, var = s2 / c - mu * mu;
        float m = (float)mu, k = (float)(1.0 / sqrt((var > 0.0 ? var : 0.0) + eps));
        float *out = y + (size_t)r * c;
        for (int i = 0; i < c; i++)
            out[i] = (in[i] - m) * k * g[i] + b[i];
        mean[r] = m;
        rstd[r] = k;
    }
    return 0;
}

/* dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy g. */
int cpu_layernorm_backward(backend *be, const float *dy, const float *x, const float *g,
                           const float *mean, const float *rstd, float *dx, float *dg, float *db,
                           int n, int c)
{
    (void)be;
    memset(dg, 0, sizeof(float) * (size_t)c);
    memset(db, 0, sizeof(float) * (size_t)c);
    for (int r = 0; r < n; r++) {
        const float *in = x + (size_t)r * c, *d = dy + (size_t)r * c;
        float m = mean[r], k = rstd[r];
        double s = 0.0, sx = 0.0;
        for (int i = 0; i < c; i++) {
            float xhat = (in[i] - m) * k, dxhat = d[i] * g[i];
            dg[i] += d[i] * xhat;
            db[i] += d[i];
            s += dxhat;
            sx += (double)dxhat * xhat;
        }
        if (!dx)
            continue;
        float ms = (float)(s / c), msx = (float)(sx / c);
        float *out = dx + (size_t)r * c;
        for (int i = 0; i < c; i++) {
            float xhat = (in[i] - m) * k;
            out[i] = k * (d[i] * g[i] - ms - xhat * msx);
        }
    }
    return 0;
}
