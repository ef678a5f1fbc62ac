#include "data/sampler.h"

#include <stdlib.h>

#include "kernels/rng.h"
#include "trainer/err.h"

int sampler_init(sampler *s, int64_t n, uint64_t seed, bool shuffle)
{
    s->n = n;
    s->seed = seed;
    s->shuffle = shuffle;
    s->epoch = -1;
    s->order = malloc(sizeof(int64_t) * (size_t)n);
    if (!s->order)
        return err_set("out of memory for the sample order (%lld samples)", (long long)n);
    return 0;
}

/* Fisher-Yates, drawing position j for i from Philox (seed, shuffle, epoch, i).
 * j = floor(u * (i + 1) / 2^32): the bias of this mapping is below 2^-32 * n,
 * far too small to matter for an ordering of training data. */
static void compute_order(sampler *s, int64_t epoch)
{
    for (int64_t i = 0; i < s->n; i++)
        s->order[i] = i;
    if (s->shuffle)
        for (int64_t i = s->n - 1; i > 0; i--) {
            uint32_t u = rng_u32(s->seed, RNG_STREAM_SHUFFLE, (uint32_t)epoch, (uint64_t)i);
            int64_t j = (int64_t)(((uint64_t)u * (uint64_t)(i + 1)) >> 32);
            int64_t t = s->order[i];
            s->order[i] = s->order[j];
            s->order[j] = t;
        }
    s->epoch = epoch;
}

void sampler_batch(sampler *s, int64_t epoch, int64_t step_in_epoch, int batch, int rank, int world,
                   int64_t *idx)
{
    if (s->epoch != epoch)
        compute_order(s, epoch);
    int local = batch / world;
    int64_t first = step_in_epoch * batch + (int64_t)rank * local;
    for (int i = 0; i < local; i++)
        idx[i] = s->order[first + i];
}

void sampler_free(sampler *s)
{
    free(s->order);
    s->order = NULL;
}
