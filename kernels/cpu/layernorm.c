/* layernorm: layer normalization over the last axis on the CPU (see
 * backend.h), as PyTorch's LayerNorm: the biased variance, eps inside the
 * square root. Statistics in double; a row's mean and 1/std are kept for
 * the backward pass. Rows go to the backend's threads; the gain's and
 * bias's gradients, sums over rows, go by columns, each summed over the
 * rows in order: the same floats for any number of threads. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

typedef struct {
    const float *x, *g, *b, *dy, *mean_in, *rstd_in;
    float *y, *mean, *rstd, *dx, *dg, *db;
    size_t n; /* rows */
    int c;
    float eps;
} ln_pass;

static void forward_rows(void *arg, size_t from, size_t to)
{
    const ln_pass *p = arg;
    int c = p->c;
    for (size_t r = from; r < to; r++) {
        const float *in = p->x + r * c;
        double s, s2;
        cpu_sums(in, in, (size_t)c, &s, &s2);
        double mu = s / c, var = s2 / c - mu * mu;
        float m = (float)mu, k = (float)(1.0 / sqrt((var > 0.0 ? var : 0.0) + p->eps));
        float *out = p->y + r * c;
        for (int i = 0; i < c; i++)
            out[i] = (in[i] - m) * k * p->g[i] + p->b[i];
        p->mean[r] = m;
        p->rstd[r] = k;
    }
}

int cpu_layernorm_forward(backend *be, const float *x, const float *g, const float *b, float *y,
                          float *mean, float *rstd, int n, int c, float eps)
{
    ln_pass p = {.x = x, .g = g, .b = b, .y = y, .mean = mean, .rstd = rstd, .c = c, .eps = eps};
    cpu_workers_run(cpu_workers_of(be), (size_t)n, cpu_workers_grain((size_t)c), forward_rows, &p);
    return 0;
}

/* dg[i] += dy xhat and db[i] += dy over all rows for columns [from, to),
 * row after row. */
static void grads_part(void *arg, size_t from, size_t to)
{
    const ln_pass *p = arg;
    for (size_t r = 0; r < p->n; r++) {
        const float *in = p->x + r * p->c, *d = p->dy + r * p->c;
        float m = p->mean_in[r], k = p->rstd_in[r];
        for (size_t i = from; i < to; i++) {
            float xhat = (in[i] - m) * k;
            p->dg[i] += d[i] * xhat;
            p->db[i] += d[i];
        }
    }
}

/* dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy g,
 * over rows [from, to); with `grads`, dg and db too, in the same loop (one
 * thread: one pass over the rows instead of two). */
static void backward_rows(const ln_pass *p, size_t from, size_t to, bool grads)
{
    int c = p->c;
    for (size_t r = from; r < to; r++) {
        const float *in = p->x + r * c, *d = p->dy + r * c;
        float m = p->mean_in[r], k = p->rstd_in[r];
        double s = 0.0, sx = 0.0;
        for (int i = 0; i < c; i++) {
            float xhat = (in[i] - m) * k, dxhat = d[i] * p->g[i];
            if (grads) {
                p->dg[i] += d[i] * xhat;
                p->db[i] += d[i];
            }
            s += dxhat;
            sx += (double)dxhat * xhat;
        }
        if (!p->dx)
            continue;
        float ms = (float)(s / c), msx = (float)(sx / c);
        float *out = p->dx + r * c;
        for (int i = 0; i < c; i++) {
            float xhat = (in[i] - m) * k;
            out[i] = k * (d[i] * p->g[i] - ms - xhat * msx);
        }
    }
}

static void dx_part(void *arg, size_t from, size_t to)
{
    backward_rows(arg, from, to, false);
}

int cpu_layernorm_backward(backend *be, const float *dy, const float *x, const float *g,
                           const float *mean, const float *rstd, float *dx, float *dg, float *db,
                           int n, int c)
{
    memset(dg, 0, sizeof(float) * (size_t)c);
    memset(db, 0, sizeof(float) * (size_t)c);
    ln_pass p = {.x = x,
                 .g = g,
                 .dy = dy,
                 .mean_in = mean,
                 .rstd_in = rstd,
                 .dx = dx,
                 .dg = dg,
                 .db = db,
                 .n = (size_t)n,
                 .c = c};
    cpu_workers *w = cpu_workers_of(be);
    if (!w) {
        backward_rows(&p, 0, (size_t)n, true);
        return 0;
    }
    cpu_workers_run(w, (size_t)c, cpu_workers_grain((size_t)n), grads_part, &p);
    if (dx)
        cpu_workers_run(w, (size_t)n, cpu_workers_grain((size_t)c), dx_part, &p);
    return 0;
}
