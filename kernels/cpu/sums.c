/* sums: the CPU backend's double-precision sums of float arrays (the
 * gradient norm, cpu_sumsq; batch norm's per-channel statistics).
 *
 * Sixteen running sums per result, added pairwise in a fixed order at the
 * end: the same result every run and on every CPU, while the additions run
 * sixteen wide and sixteen independent (one chain of dependent double
 * additions would run at a quarter of an element a cycle). The compiler
 * cannot find this form by itself without being allowed to reorder the
 * additions, so the lanes are spelled out as GCC vector types. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

typedef float lanes_f __attribute__((vector_size(16)));  /* 4 floats */
typedef double lanes_d __attribute__((vector_size(32))); /* 4 doubles */

/* The 16 lanes of acc[4] added pairwise, always in the same order. */
static double lanes_total(const lanes_d *acc)
{
    double s[16];
    memcpy(s, acc, sizeof s);
    for (int k = 8; k > 0; k /= 2)
        for (int j = 0; j < k; j++)
            s[j] += s[j + k];
    return s[0];
}

CPU_SIMD void cpu_sums(const float *a, const float *b, size_t n, double *sum_a, double *sum_ab)
{
    lanes_d s[4] = {{0}}, p[4] = {{0}};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int k = 0; k < 4; k++) {
            lanes_f af, bf;
            memcpy(&af, a + i + 4 * k, sizeof af); /* unaligned loads */
            memcpy(&bf, b + i + 4 * k, sizeof bf);
            lanes_d ad = __builtin_convertvector(af, lanes_d);
            s[k] += ad;
            p[k] += ad * __builtin_convertvector(bf, lanes_d);
        }
    double sa = lanes_total(s), sab = lanes_total(p);
    for (; i < n; i++) {
        sa += a[i];
        sab += (double)a[i] * b[i];
    }
    *sum_a = sa;
    *sum_ab = sab;
}

/* The squared norm of a flat buffer (the gradient's, for clipping). */
int cpu_sumsq(backend *be, const float *x, size_t n, double *out)
{
    (void)be;
    double sum;
    cpu_sums(x, x, n, &sum, out);
    return 0;
}

/* Range by range, each one's sum as cpu_sumsq gives it, added in order. */
int cpu_sumsq_ranges(backend *be, const float *x, const size_t *ranges, int n, double *out)
{
    double total = 0.0;
    for (int k = 0; k < n; k++) {
        double part;
        cpu_sumsq(be, x + ranges[2 * k], ranges[2 * k + 1] - ranges[2 * k], &part);
        total += part;
    }
    *out = total;
    return 0;
}
