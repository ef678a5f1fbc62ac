/* sampler: which samples make up each batch.
 *
 * The global order of an epoch depends only on (seed, epoch): a keyed
 * pseudo-random permutation of [0, n), or the identity when shuffling is
 * off. The permutation is computed one position at a time (a Feistel
 * network keyed by Philox, see sampler.c), so it takes no memory however
 * many samples there are. A global batch is a run of `batch` consecutive
 * positions in that order, and rank r of R takes the r-th contiguous slice
 * of it. The order never depends on the number of ranks, which is what lets
 * 1 rank and N ranks make the same update. An epoch has n / batch steps;
 * the tail that does not fill a batch is left out of that epoch (with
 * shuffling, a different tail each epoch). */
#ifndef ACCEL_SAMPLER_H
#define ACCEL_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

/* The most samples a sampler orders: the permutation's domain, the
 * smallest 2^(2h) >= n, must fit its two h-bit halves in 32 bits each and
 * the whole in an int64_t. */
#define SAMPLER_MAX_N ((int64_t)1 << 62)

typedef struct {
    int64_t n;
    uint64_t seed;
    bool shuffle;
    unsigned half_bits; /* h: the permutation's domain is 2^(2h) */
    unsigned rounds;    /* of its Feistel network */
} sampler;

/* Fails only for n outside 1..SAMPLER_MAX_N; allocates nothing. */
int sampler_init(sampler *s, int64_t n, uint64_t seed, bool shuffle);

/* The sample at `position` (0 <= position < n) of epoch's order. */
int64_t sampler_at(const sampler *s, int64_t epoch, int64_t position);

/* Writes into idx the sample indices of this rank's slice of global batch
 * `step_in_epoch` of `epoch`. The slice is batch / world samples long;
 * batch must divide by world. */
void sampler_batch(sampler *s, int64_t epoch, int64_t step_in_epoch, int batch, int rank, int world,
                   int64_t *idx);

#endif
