/* evaluate: loss and accuracy of the model on a whole split, without dropout.
 * The split's batches are dealt round-robin to the ranks and the sums
 * reduced, so every sample counts exactly once however many ranks there are. */
#ifndef ACCEL_EVALUATE_H
#define ACCEL_EVALUATE_H

#include "comm/comm.h"
#include "data/dataset.h"
#include "data/transform.h"
#include "trainer/model.h"

/* batch must not exceed the model's max_rows. Each gathered batch goes
 * through t in evaluation mode (normalization only); t may be NULL. */
int evaluate(model *m, dataset *ds, const transform *t, const comm_info *ci, int batch,
             double *loss, double *accuracy);

/* Hears of each batch once its loss is computed: samples [first, first +
 * rows) of the split, their inputs x and targets y as gathered (host), the
 * logits in the model's last layer and each target's loss and correctness
 * in m->host_stats (model_loss). */
typedef int (*eval_batch_fn)(void *ctx, model *m, int64_t first, int rows, const float *x,
                             const int32_t *y);

/* evaluate's part on one rank, with no reduction: the batches `rank` of
 * `ranks` takes, their summed loss and correct count added to sums[0] and
 * sums[1] (each sample's the mean over its positions), and `each` (when
 * not NULL) told of every batch. --eval runs it alone, as rank 0 of 1. */
int evaluate_batches(model *m, dataset *ds, const transform *t, int rank, int ranks, int batch,
                     eval_batch_fn each, void *ctx, double sums[2]);

#endif
