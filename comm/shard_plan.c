#include "comm/shard_plan.h"

#include <stdlib.h>
#include <string.h>

#include "util/err.h"

size_t shard_bucket_floats(double bucket_mb)
{
    double floats = bucket_mb * (1 << 20) / sizeof(float);
    return floats < 1 ? 1 : floats > (1u << 30) ? (1u << 30) : (size_t)floats;
}

/* The cut points, as gsync_ready makes them while backward tells it, layer
 * by layer from the last, where the gradients are final: a bucket ends
 * where the previous one began, and closes at the first layer start that
 * makes it bucket_floats or more. Counts them when out is NULL. */
static int cut(const size_t *starts, int n_starts, size_t n, size_t bucket_floats,
               shard_bucket *out)
{
    int count = 0;
    size_t end = n;
    for (int i = n_starts - 1; i >= 0; i--)
        if (starts[i] < end && end - starts[i] >= bucket_floats) {
            if (out)
                out[count] = (shard_bucket){.start = starts[i], .len = end - starts[i]};
            count++;
            end = starts[i];
        }
    if (end > 0) {
        if (out)
            out[count] = (shard_bucket){.start = 0, .len = end};
        count++;
    }
    return count;
}

int shard_plan_make(shard_plan *p, const size_t *starts, int n_starts, size_t n,
                    size_t bucket_floats, int world)
{
    memset(p, 0, sizeof *p);
    p->world = world < 1 ? 1 : world;
    p->n = n;
    p->n_buckets = cut(starts, n_starts, n, bucket_floats, NULL);
    p->buckets = calloc((size_t)p->n_buckets + 1, sizeof *p->buckets);
    if (!p->buckets)
        return err_set("out of host memory for the optimizer's shard plan");
    cut(starts, n_starts, n, bucket_floats, p->buckets);
    for (int b = 0; b < p->n_buckets; b++) {
        shard_bucket *k = &p->buckets[b];
        k->piece = (k->len + (size_t)p->world - 1) / (size_t)p->world;
        k->shard_at = p->shard_floats;
        p->shard_floats += k->piece;
    }
    return 0;
}

void shard_plan_owned(const shard_plan *p, int b, int rank, size_t *from, size_t *to)
{
    const shard_bucket *k = &p->buckets[b];
    size_t lo = (size_t)rank * k->piece, hi = lo + k->piece;
    if (lo > k->len)
        lo = k->len;
    if (hi > k->len)
        hi = k->len;
    *from = k->start + lo;
    *to = k->start + hi;
}

size_t shard_plan_count(const shard_plan *p, int b, int rank)
{
    size_t from, to;
    shard_plan_owned(p, b, rank, &from, &to);
    return to - from;
}

void shard_plan_pack(const shard_plan *p, int rank, const float *flat, float *shard)
{
    memset(shard, 0, sizeof(float) * p->shard_floats);
    for (int b = 0; b < p->n_buckets; b++) {
        size_t from, to;
        shard_plan_owned(p, b, rank, &from, &to);
        memcpy(shard + p->buckets[b].shard_at, flat + from, sizeof(float) * (to - from));
    }
}

void shard_plan_unpack(const shard_plan *p, const float *shards, float *flat)
{
    for (int r = 0; r < p->world; r++)
        for (int b = 0; b < p->n_buckets; b++) {
            size_t from, to;
            shard_plan_owned(p, b, r, &from, &to);
            memcpy(flat + from, shards + (size_t)r * p->shard_floats + p->buckets[b].shard_at,
                   sizeof(float) * (to - from));
        }
}

void shard_plan_free(shard_plan *p)
{
    free(p->buckets);
    p->buckets = NULL;
    p->n_buckets = 0;
}
