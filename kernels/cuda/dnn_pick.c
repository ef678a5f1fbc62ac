#include "kernels/cuda/dnn_pick.h"

int dnn_pick(const dnn_candidate *c, int n, bool need_deterministic, size_t max_workspace)
{
    for (int i = 0; i < n; i++)
        if (c[i].supported && c[i].workspace <= max_workspace &&
            (c[i].deterministic || !need_deterministic))
            return i;
    return -1;
}
