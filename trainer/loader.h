/* loader: the training batches, made by a thread of their own a few steps
 * ahead of the step that uses them.
 *
 * For step s the thread picks the samples (the sampler), gathers them from
 * the dataset and augments and normalizes them (the transform) into host
 * buffer s % LOADER_DEPTH. The step that consumes them hands the buffer
 * back with loader_release once nothing reads it any more (its upload has
 * finished, or on the CPU, the step that read it in place has). Batches are
 * exactly the ones the main thread would have made: which samples and which
 * augmentation depend only on the step, never on timing.
 *
 * Only the thread touches the dataset, the sampler and its own transform
 * after loader_start. Errors in the thread (a read error) surface from the
 * loader_get that waits for that step, with the thread's message. Without a
 * thread-safe HDF5 library an HDF5 split is read on the calling thread
 * instead, inside loader_get. */
#ifndef ACCEL_LOADER_H
#define ACCEL_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "data/dataset.h"
#include "trainer/config.h"

/* Buffers: the step running reads one, the next step's batch is in
 * another, and the thread fills the rest ahead. It sleeps when all are full
 * and is woken once half are free again, not every step: waking a sleeping
 * thread costs the waker some 10 us on a VM, 1.5% of a small MLP's step. */
#define LOADER_DEPTH 6

typedef struct loader loader;

/* The batch geometry: this rank's slice (local rows) of the global batch of
 * each step, steps_per_epoch steps an epoch. */
typedef struct {
    int rank, world;
    int batch, local_batch;
    long steps_per_epoch;
} loader_shape;

/* A loader over ds (which it does not own) for the batches of shape `sh`,
 * filling x[i] (local_batch x ds->features floats) and y[i] (local_batch
 * labels), i < LOADER_DEPTH, which the caller allocates (pinned memory on a
 * GPU) and frees after loader_close. */
loader *loader_open(const config *cfg, dataset *ds, const loader_shape *sh,
                    float *const x[LOADER_DEPTH], int32_t *const y[LOADER_DEPTH]);

/* Starts making the batches of steps [first, end). */
int loader_start(loader *ld, long first, long end);

/* Waits for the batch of `step` (the next one not yet taken, in order) and
 * points *x and *y at it. */
int loader_get(loader *ld, long step, float **x, int32_t **y);

/* The buffers of steps up to and including `step` may be refilled. */
void loader_release(loader *ld, long step);

/* Whether batches are made on a thread of their own. */
bool loader_threaded(const loader *ld);

/* Stops the thread (after the batch it is making) and frees the loader;
 * NULL is fine. */
void loader_close(loader *ld);

#endif
