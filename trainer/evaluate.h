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

#endif
