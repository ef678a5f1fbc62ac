/* bias_grad: db[c] = the sum over outer and inner of dz[o][c][i] on the
 * CPU, row after row, in a fixed order. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"

int cpu_bias_grad(backend *be, float *db, const float *dz, int outer, int channels, int inner)
{
    (void)be;
    memset(db, 0, sizeof(float) * (size_t)channels);
    for (int o = 0; o < outer; o++) {
        const float *dr = dz + (size_t)o * channels * inner;
        if (inner == 1) {
            for (int c = 0; c < channels; c++)
                db[c] += dr[c];
            continue;
        }
        for (int c = 0; c < channels; c++) {
            float s = 0.0f;
            for (int i = 0; i < inner; i++)
                s += dr[(size_t)c * inner + i];
            db[c] += s;
        }
    }
    return 0;
}
