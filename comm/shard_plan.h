/* shard_plan: which rank owns which part of the flat gradient, parameter
 * and Adam buffers when the optimizer state is sharded (optimizer.shard,
 * ZeRO stage 1). Arithmetic only: no MPI, no backend, so it is unit-tested
 * as it is.
 *
 * The buffer is cut into buckets as the gradient all-reduce cuts it
 * (grad_sync.c): from the end towards the start, at the starts of layers,
 * each at least bucket_floats (the last, at the buffer's start, whatever is
 * left). Each bucket of len floats is split into world pieces of
 * piece = ceil(len / world) floats; rank r owns the r-th, the bucket's
 * floats [r * piece, min((r + 1) * piece, len)), which may be short or
 * empty for the last ranks. A rank's moments hold its piece of every bucket,
 * one after another in bucket order, each given `piece` floats whether or
 * not all are owned: so every rank's moment buffers have the same size,
 * about 1/world of the whole, and a gather of them is one equal-sized
 * message a rank. */
#ifndef ACCEL_SHARD_PLAN_H
#define ACCEL_SHARD_PLAN_H

#include <stddef.h>

typedef struct {
    size_t start, len; /* the bucket: floats [start, start + len) of the flat buffer */
    size_t piece;      /* ceil(len / world) */
    size_t shard_at;   /* where its piece starts in a rank's moment buffers */
} shard_bucket;

typedef struct {
    int world;
    size_t n;      /* floats in the flat buffer */
    int n_buckets; /* in the order they start: the buffer's end first */
    shard_bucket *buckets;
    size_t shard_floats; /* a rank's moment buffers: the buckets' pieces */
} shard_plan;

/* The floats of a bucket of bucket_mb MiB, as grad_sync takes it: at least
 * 1, at most 2^30. */
size_t shard_bucket_floats(double bucket_mb);

/* Plans a buffer of n floats whose layers start at starts[0..n_starts)
 * (ascending; each below n) for world ranks. Returns 0, or -1 with the error
 * set (out of memory). */
int shard_plan_make(shard_plan *p, const size_t *starts, int n_starts, size_t n,
                    size_t bucket_floats, int world);

/* The floats [*from, *to) of the flat buffer that rank owns in bucket b. */
void shard_plan_owned(const shard_plan *p, int b, int rank, size_t *from, size_t *to);

/* The floats rank owns in bucket b (to - from above). */
size_t shard_plan_count(const shard_plan *p, int b, int rank);

/* Copies rank's pieces of the flat buffer `flat` into `shard`
 * (shard_floats; what no one owns, the pieces' short tails, becomes 0). */
void shard_plan_pack(const shard_plan *p, int rank, const float *flat, float *shard);

/* The inverse over all ranks: every rank's shard buffer, one after another
 * in rank order (world x shard_floats), into the flat buffer (n floats). */
void shard_plan_unpack(const shard_plan *p, const float *shards, float *flat);

void shard_plan_free(shard_plan *p);

#endif
