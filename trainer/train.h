/* train: the training run, from a validated configuration to the final
 * checkpoint: data, model, the step loop, evaluation, logs and checkpoints. */
#ifndef ACCEL_TRAIN_H
#define ACCEL_TRAIN_H

#include <stdio.h>

#include "comm/comm.h"
#include "trainer/config.h"

typedef struct {
    const char *resume; /* NULL: start fresh; "auto" or a checkpoint path */
    /* "LAYER.KEY" each: a key that shapes training alone which the resumed
     * checkpoint's model may have otherwise (--allow-change) */
    const char *const *allow_change;
    int n_allow_change;
    FILE *out;       /* progress and messages; NULL: stdout */
    double launched; /* progress_now() as main began: start-up counts from it */
    /* Called on a failure, with how the job should end (see train_run),
     * before anything is freed: freeing can wait on peers (a device
     * synchronize behind a collective, a communicator's destroy), and a
     * rank that failed alone must tell and abort the job first. May not
     * return. NULL: the caller tells after train_run returns. */
    void (*tell)(const comm_info *ci, int reporter);
} train_options;

/* For *reporter: this rank failed on its own. */
enum { TRAIN_REPORT_ALONE = -1 };

/* train_run's result for a run a signal stopped (see stop.h), after its
 * checkpoint was written. */
enum { TRAIN_STOPPED = 1 };

/* Trains. Returns 0, TRAIN_STOPPED, or -1 with the error recorded and *reporter saying how
 * the job should end: the rank whose message tells what failed, when every
 * rank knows the run failed and can end normally; or TRAIN_REPORT_ALONE when
 * this rank failed by itself, and the others may be waiting for it in a
 * collective, so the job must be aborted. */
int train_run(const config *cfg, const comm_info *ci, const train_options *opt, int *reporter);

#endif
