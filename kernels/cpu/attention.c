/* attention: the causal softmax of self-attention on the CPU (see
 * backend.h): row i of each T x T matrix of scores keeps columns 0..i, the
 * rest become 0. The matrix products around it are OpenBLAS's (gemm). */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

/* Row a of t scores at position last: it sees columns 0..last. math.h's
 * e^x, not libm's, so that the loop vectorizes. */
CPU_SIMD static void softmax_row(float *a, int last, int t, float scale)
{
    float max = a[0] * scale;
    for (int j = 1; j <= last; j++)
        max = a[j] * scale > max ? a[j] * scale : max;
    for (int j = 0; j <= last; j++)
        a[j] = math_expf(a[j] * scale - max);
    float inv = 1.0f / cpu_lane_dot(a, NULL, last + 1);
    for (int j = 0; j <= last; j++)
        a[j] *= inv;
    memset(a + last + 1, 0, sizeof(float) * (size_t)(t - last - 1));
}

/* The rows of a pass over n x t rows of t scores, for the threads. */
typedef struct {
    float *d;
    const float *a;
    float *att;
    int t;
    float scale;
} rows_pass;

static void softmax_part(void *arg, size_t from, size_t to)
{
    const rows_pass *p = arg;
    for (size_t row = from; row < to; row++)
        softmax_row(p->att + row * p->t, (int)(row % (size_t)p->t), p->t, p->scale);
}

int cpu_causal_softmax(backend *be, float *att, int n, int t, float scale)
{
    rows_pass p = {.att = att, .t = t, .scale = scale};
    cpu_workers_run(cpu_workers_of(be), (size_t)n * t, cpu_workers_grain((size_t)t), softmax_part,
                    &p);
    return 0;
}

int cpu_causal_softmax_row(backend *be, float *row, int pos, int t, float scale)
{
    (void)be;
    softmax_row(row, pos, t, scale);
    return 0;
}

/* d scores = scale * att * (d att - sum_j d att_j att_j); masked ones stay 0. */
CPU_SIMD static void softmax_backward_row(float *d, const float *a, int last, int t, float scale)
{
    float dot = cpu_lane_dot(d, a, last + 1);
    for (int j = 0; j <= last; j++)
        d[j] = scale * a[j] * (d[j] - dot);
    memset(d + last + 1, 0, sizeof(float) * (size_t)(t - last - 1));
}

static void softmax_backward_part(void *arg, size_t from, size_t to)
{
    const rows_pass *p = arg;
    for (size_t row = from; row < to; row++)
        softmax_backward_row(p->d + row * p->t, p->a + row * p->t, (int)(row % (size_t)p->t), p->t,
                             p->scale);
}

int cpu_causal_softmax_backward(backend *be, float *datt, const float *att, int n, int t,
                                float scale)
{
    rows_pass p = {.d = datt, .a = att, .t = t, .scale = scale};
    cpu_workers_run(cpu_workers_of(be), (size_t)n * t, cpu_workers_grain((size_t)t),
                    softmax_backward_part, &p);
    return 0;
}
