/* adam: one AdamW step over the flat parameter buffer on the CPU, each
 * element through math_adam, the function the GPU's kernel calls. */
#include "kernels/cpu/cpu_ops.h"

CPU_SIMD static void adam(float *restrict p, const float *restrict g, float *restrict m,
                          float *restrict v, size_t n, adam_hyper hh)
{
    /* hh by value: stores through p, m and v could otherwise alias it
     * (floats all), and the compiler would reload it every element and give
     * up on vectorizing the loop. */
    for (size_t i = 0; i < n; i++)
        math_adam(&p[i], g[i], &m[i], &v[i], &hh);
}

typedef struct {
    float *p, *m, *v;
    const float *g;
    adam_hyper h;
} adam_pass;

static void adam_part(void *arg, size_t from, size_t to)
{
    const adam_pass *a = arg;
    adam(a->p + from, a->g + from, a->m + from, a->v + from, to - from, a->h);
}

int cpu_adam(backend *be, float *p, const float *g, float *m, float *v, size_t n,
             const adam_hyper *h)
{
    adam_pass a = {.p = p, .m = m, .v = v, .g = g, .h = *h};
    cpu_workers_run(cpu_workers_of(be), n, cpu_workers_grain(1), adam_part, &a);
    return 0;
}
