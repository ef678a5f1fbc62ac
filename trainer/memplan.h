/* memplan: the memory one rank needs, worked out before any of it is
 * allocated. --dry-run prints it; training compares it with what the rank
 * can have (membudget) and refuses, with both figures, a run that would not
 * fit, instead of being killed mid-way.
 *
 * The model's buffers are counted by building the model on a counting
 * backend (backend_cpu_counting_open): the same code that allocates them
 * for training, so the figure cannot drift from what training takes. */
#ifndef ACCEL_MEMPLAN_H
#define ACCEL_MEMPLAN_H

#include <stddef.h>
#include <stdint.h>

#include "data/dataset.h"
#include "trainer/config.h"
#include "kernels/backend.h"
#include "trainer/model.h"

typedef struct {
    int train_rows, eval_rows; /* a rank's rows of a training and an evaluation batch */
    size_t n_params, n_state;
    size_t n_moments; /* in each Adam moment: n_params, or a rank's shard of it */
    /* The model's buffers (on the backend: the host's on the CPU, the GPU's
     * on a GPU): parameters, gradients, Adam's two moments, and activations,
     * inputs and workspaces. */
    uint64_t model;
    /* The host's besides, on every rank: the input batches in flight, the
     * evaluation batch, the loss statistics; with sharded moments, the
     * copy of a rank's shard that a checkpoint gathers from. */
    uint64_t host;
    /* Rank 0's alone, while it writes a checkpoint: the host copy of
     * parameters, moments and state, the file HDF5 builds in memory, and
     * its sealed image. */
    uint64_t staging;
    /* On a device that plans convolutions itself (cuDNN), the workspace
     * they share: the largest any of the model's plans takes there; 0
     * without convolutions or such a device. */
    uint64_t conv_workspace;
} memplan;

/* What a model of this data reads: its images, or its rows of token ids,
 * in batches of batch_rows. */
model_input memplan_input(const dataset *ds, int batch_rows);

/* The model of a rank of `world` that trains on batches of train_rows in
 * train.grad_accum micro-batches, and evaluates eval_rows at a time; with
 * optimizer.shard and more than one rank, its Adam moments are rank's
 * shard. */
model *memplan_build(const config *cfg, backend *be, const dataset *train, int train_rows,
                     int eval_rows, int world, int rank);

/* A rank's evaluation rows: none without a test split, else
 * data.eval_batch_size or the split's size if smaller. */
int memplan_eval_rows(const config *cfg, const dataset *test);

/* Plans a rank of `world` that trains on `train` (its shape and size) in
 * batches of train_rows (its share of the global batch, run in
 * train.grad_accum micro-batches) and evaluates in batches of eval_rows;
 * with a `device` (may be NULL) whose conv_workspace says what its plans
 * take, conv_workspace too. Fails as building the model would (a config
 * the data does not fit), or as the device's planning does. */
int memplan_make(memplan *p, const config *cfg, const dataset *train, int train_rows, int eval_rows,
                 int world, backend *device);

#endif
