/* bias_grad: db[c] = the sum over outer and inner of dz[o][c][i] on the
 * CPU, row after row, in a fixed order. The backend's threads take
 * channels, each summed over the rows in order: the same floats for any
 * number of threads. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

typedef struct {
    float *db;
    const float *dz;
    int outer, channels, inner;
} bias_pass;

static void channels_part(void *arg, size_t from, size_t to)
{
    const bias_pass *p = arg;
    for (int o = 0; o < p->outer; o++) {
        const float *dr = p->dz + (size_t)o * p->channels * p->inner;
        if (p->inner == 1) {
            for (size_t c = from; c < to; c++)
                p->db[c] += dr[c];
            continue;
        }
        for (size_t c = from; c < to; c++) {
            float s = 0.0f;
            for (int i = 0; i < p->inner; i++)
                s += dr[c * p->inner + i];
            p->db[c] += s;
        }
    }
}

int cpu_bias_grad(backend *be, float *db, const float *dz, int outer, int channels, int inner)
{
    memset(db, 0, sizeof(float) * (size_t)channels);
    bias_pass p = {.db = db, .dz = dz, .outer = outer, .channels = channels, .inner = inner};
    cpu_workers_run(cpu_workers_of(be), (size_t)channels, cpu_workers_grain((size_t)outer * inner),
                    channels_part, &p);
    return 0;
}
