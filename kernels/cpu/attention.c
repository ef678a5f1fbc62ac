/* attention: the causal softmax of self-attention on the CPU (see
 * backend.h): row i of each T x T matrix of scores keeps columns 0..i, the
 * rest become 0. The matrix products around it are OpenBLAS's (gemm). */
#include <math.h>
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

/* Row a of t scores at position last: it sees columns 0..last. */
static void softmax_row(float *a, int last, int t, float scale)
{
    float max = a[0] * scale;
    for (int j = 1; j <= last; j++)
        max = fmaxf(max, a[j] * scale);
    double sum = 0.0;
    for (int j = 0; j <= last; j++) {
        a[j] = expf(a[j] * scale - max);
        sum += a[j];
    }
    float inv = (float)(1.0 / sum);
    for (int j = 0; j <= last; j++)
        a[j] *= inv;
    memset(a + last + 1, 0, sizeof(float) * (size_t)(t - last - 1));
}

int cpu_causal_softmax(backend *be, float *att, int n, int t, float scale)
{
    (void)be;
    for (size_t row = 0; row < (size_t)n * t; row++)
        softmax_row(att + row * t, (int)(row % (size_t)t), t, scale);
    return 0;
}

int cpu_causal_softmax_row(backend *be, float *row, int pos, int t, float scale)
{
    (void)be;
    softmax_row(row, pos, t, scale);
    return 0;
}

/* d scores = scale * att * (d att - sum_j d att_j att_j); masked ones stay 0. */
int cpu_causal_softmax_backward(backend *be, float *datt, const float *att, int n, int t,
                                float scale)
{
    (void)be;
    for (size_t row = 0; row < (size_t)n * t; row++) {
        int last = (int)(row % (size_t)t);
        float *d = datt + row * t;
        const float *a = att + row * t;
        double dot = 0.0;
        for (int j = 0; j <= last; j++)
            dot += (double)d[j] * a[j];
        for (int j = 0; j <= last; j++)
            d[j] = scale * a[j] * (d[j] - (float)dot);
        memset(d + last + 1, 0, sizeof(float) * (size_t)(t - last - 1));
    }
    return 0;
}
