/* evaluate: loss and accuracy of the model on a whole split, without dropout.
 * The split's batches are dealt round-robin to the ranks and the sums
 * reduced, so every sample counts exactly once however many ranks there are. */
#ifndef ACCEL_EVALUATE_H
#define ACCEL_EVALUATE_H

#include "comm/comm.h"
#include "data/dataset.h"
#include "trainer/model.h"

/* batch must not exceed the model's max_rows. */
int evaluate(model *m, const dataset *ds, const comm_info *ci, int batch, double *loss,
             double *accuracy);

#endif
