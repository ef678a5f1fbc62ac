/* train: the training run, from a validated configuration to the final
 * checkpoint: data, model, the step loop, evaluation, logs and checkpoints. */
#ifndef ACCEL_TRAIN_H
#define ACCEL_TRAIN_H

#include <stdio.h>

#include "comm/comm.h"
#include "trainer/config.h"

typedef struct {
    const char *resume; /* NULL: start fresh; "auto" or a checkpoint path */
    FILE *out;          /* progress and messages; NULL: stdout */
} train_options;

int train_run(const config *cfg, const comm_info *ci, const train_options *opt);

#endif
