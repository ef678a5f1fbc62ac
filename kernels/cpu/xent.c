/* xent: softmax cross-entropy forward and backward on the CPU, a row at a
 * time through math_xent_row, the function the GPU's kernel calls. */
#include "kernels/cpu/cpu_ops.h"

typedef struct {
    const float *z;
    const int32_t *labels;
    int cols;
    float scale;
    float *dz, *stats;
} xent_pass;

static void xent_part(void *arg, size_t from, size_t to)
{
    const xent_pass *p = arg;
    for (size_t r = from; r < to; r++) {
        int pred;
        float *dr = p->dz ? p->dz + r * p->cols : NULL;
        p->stats[2 * r] =
            math_xent_row(p->z + r * p->cols, p->cols, p->labels[r], p->scale, dr, &pred);
        p->stats[2 * r + 1] = pred == p->labels[r] ? 1.0f : 0.0f;
    }
}

int cpu_xent(backend *be, const float *z, const int32_t *labels, int rows, int cols, float scale,
             float *dz, float *stats)
{
    xent_pass p = {
        .z = z, .labels = labels, .cols = cols, .scale = scale, .dz = dz, .stats = stats};
    cpu_workers_run(cpu_workers_of(be), (size_t)rows, cpu_workers_grain((size_t)cols), xent_part,
                    &p);
    return 0;
}
