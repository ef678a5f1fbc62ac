/* sampler: which samples make up each batch.
 *
 * The global order of an epoch depends only on (seed, epoch): a seeded
 * Fisher-Yates shuffle, or the identity when shuffling is off. A global batch
 * is a run of `batch` consecutive positions in that order, and rank r of R
 * takes the r-th contiguous slice of it. The order never depends on the
 * number of ranks, which is what lets 1 rank and N ranks make the same
 * update. An epoch has n / batch steps; the tail that does not fill a batch
 * is left out of that epoch (with shuffling, a different tail each epoch). */
#ifndef ACCEL_SAMPLER_H
#define ACCEL_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t n;
    uint64_t seed;
    bool shuffle;
    int64_t *order; /* the permutation of `epoch` */
    int64_t epoch;  /* whose order is held, -1 for none */
} sampler;

int sampler_init(sampler *s, int64_t n, uint64_t seed, bool shuffle);

/* Writes into idx the sample indices of this rank's slice of global batch
 * `step_in_epoch` of `epoch`. The slice is batch / world samples long;
 * batch must divide by world. */
void sampler_batch(sampler *s, int64_t epoch, int64_t step_in_epoch, int batch, int rank, int world,
                   int64_t *idx);

void sampler_free(sampler *s);

#endif
