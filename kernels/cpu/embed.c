/* embed: token and position embeddings on the CPU (see backend.h). The
 * backward pass scatters each position's gradient into its token's row in
 * order, so repeated tokens add up the same way every run. */
#include <string.h>

#include "kernels/cpu/cpu_ops.h"
#include "util/err.h"

int cpu_embed_forward(backend *be, const int32_t *tok, const float *wte, const float *wpe, float *y,
                      int rows, int t, int c, int vocab)
{
    (void)be;
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < t; p++) {
            int32_t id = tok[(size_t)r * t + p];
            if (id < 0 || id >= vocab)
                return err_set("token %d at position %d of row %d is not below the vocabulary "
                               "of %d",
                               id, p, r, vocab);
            const float *e = wte + (size_t)id * c, *q = wpe + (size_t)p * c;
            float *out = y + ((size_t)r * t + p) * c;
            for (int i = 0; i < c; i++)
                out[i] = e[i] + q[i];
        }
    return 0;
}

int cpu_embed_backward(backend *be, const int32_t *tok, const float *dy, float *dwte, float *dwpe,
                       int rows, int t, int c, int vocab, bool accumulate)
{
    (void)be;
    if (!accumulate)
        memset(dwte, 0, sizeof(float) * (size_t)vocab * c);
    memset(dwpe, 0, sizeof(float) * (size_t)t * c);
    for (int r = 0; r < rows; r++)
        for (int p = 0; p < t; p++) {
            const float *g = dy + ((size_t)r * t + p) * c;
            float *e = dwte + (size_t)tok[(size_t)r * t + p] * c, *q = dwpe + (size_t)p * c;
            for (int i = 0; i < c; i++) {
                e[i] += g[i];
                q[i] += g[i];
            }
        }
    return 0;
}
