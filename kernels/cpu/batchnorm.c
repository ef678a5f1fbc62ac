/* batchnorm: the CPU side of batch normalization's pieces (see backend.h):
 * per-channel sums in double, the statistics made of them, the normalizing
 * forward, and the backward that takes the (possibly all-rank) means of dz
 * and dz * xhat. Each works a channel's plane at a time (inner contiguous
 * floats), in vector loops; the backend's threads take samples, or for the
 * sums channels, each summed over the samples in order (the same doubles
 * for any number of threads). */
#include "kernels/cpu/cpu_ops.h"

/* A pass over planes of `inner` floats, for the backend's threads. */
typedef struct {
    const float *a, *b, *x, *dz, *xhat_in, *gamma, *beta, *mean, *invstd, *mean_dz, *mean_dzxhat;
    float *xhat, *z, *y, *dx;
    double *sums;
    int outer, channels, inner;
    act_kind act;
} bn_pass;

/* channels [from, to): each summed over the samples in order */
static void sums_part(void *arg, size_t from, size_t to)
{
    const bn_pass *p = arg;
    for (int o = 0; o < p->outer; o++)
        for (size_t c = from; c < to; c++) {
            size_t base = ((size_t)o * p->channels + c) * p->inner;
            double sa, sab;
            cpu_sums(p->a + base, p->b + base, (size_t)p->inner, &sa, &sab);
            p->sums[c] += sa;
            p->sums[p->channels + c] += sab;
        }
}

int cpu_channel_sums(backend *be, const float *a, const float *b, int outer, int channels,
                     int inner, double *sums)
{
    for (int c = 0; c < 2 * channels; c++)
        sums[c] = 0.0;
    bn_pass p = {
        .a = a, .b = b, .sums = sums, .outer = outer, .channels = channels, .inner = inner};
    cpu_workers_run(cpu_workers_of(be), (size_t)channels, cpu_workers_grain((size_t)outer * inner),
                    sums_part, &p);
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

/* samples [from, to) */
static void forward_part(void *arg, size_t from, size_t to)
{
    const bn_pass *p = arg;
    for (size_t o = from; o < to; o++)
        for (int c = 0; c < p->channels; c++) {
            size_t base = (o * p->channels + c) * p->inner;
            bn_plane(p->x + base, p->xhat + base, p->y + base, p->inner, p->mean[c], p->invstd[c],
                     p->gamma[c], p->beta[c], p->act);
            /* z is y unless the activation's gradient needs its input */
            if (p->z != p->y)
                bn_plane(p->x + base, p->xhat + base, p->z + base, p->inner, p->mean[c],
                         p->invstd[c], p->gamma[c], p->beta[c], ACT_NONE);
        }
}

int cpu_bn_forward(backend *be, const float *x, float *xhat, float *z, float *y, const float *mean,
                   const float *invstd, const float *gamma, const float *beta, int outer,
                   int channels, int inner, act_kind act)
{
    bn_pass p = {.x = x,
                 .xhat = xhat,
                 .z = z,
                 .y = y,
                 .mean = mean,
                 .invstd = invstd,
                 .gamma = gamma,
                 .beta = beta,
                 .channels = channels,
                 .inner = inner,
                 .act = act};
    cpu_workers_run(cpu_workers_of(be), (size_t)outer, cpu_workers_grain((size_t)channels * inner),
                    forward_part, &p);
    return 0;
}

CPU_SIMD static void bn_back_plane(const float *restrict dz, const float *restrict xhat,
                                   float *restrict dx, int n, float k, float mean_dz,
                                   float mean_dzxhat)
{
    for (int i = 0; i < n; i++)
        dx[i] = k * (dz[i] - mean_dz - xhat[i] * mean_dzxhat);
}

/* samples [from, to) */
static void backward_part(void *arg, size_t from, size_t to)
{
    const bn_pass *p = arg;
    for (size_t o = from; o < to; o++)
        for (int c = 0; c < p->channels; c++) {
            size_t base = (o * p->channels + c) * p->inner;
            bn_back_plane(p->dz + base, p->xhat_in + base, p->dx + base, p->inner,
                          p->gamma[c] * p->invstd[c], p->mean_dz[c], p->mean_dzxhat[c]);
        }
}

int cpu_bn_backward(backend *be, const float *dz, const float *xhat, float *dx, const float *gamma,
                    const float *invstd, const float *mean_dz, const float *mean_dzxhat, int outer,
                    int channels, int inner)
{
    bn_pass p = {.dz = dz,
                 .xhat_in = xhat,
                 .dx = dx,
                 .gamma = gamma,
                 .invstd = invstd,
                 .mean_dz = mean_dz,
                 .mean_dzxhat = mean_dzxhat,
                 .channels = channels,
                 .inner = inner};
    cpu_workers_run(cpu_workers_of(be), (size_t)outer, cpu_workers_grain((size_t)channels * inner),
                    backward_part, &p);
    return 0;
}
