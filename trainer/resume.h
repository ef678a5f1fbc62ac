/* resume: where a run continues from.
 *
 * Rank 0 picks the checkpoint (--resume PATH, or --resume auto: the newest
 * ckpt-<step>.h5 in the checkpoint directory that reads cleanly, skipping
 * damaged ones with a warning, or a fresh start when there is none) and
 * reads it; then every rank receives its contents, so the other ranks need
 * not see the file at all. The number of ranks may differ from the run
 * that wrote it: the state does not depend on it. */
#ifndef ACCEL_RESUME_H
#define ACCEL_RESUME_H

#include <stdbool.h>
#include <stdio.h>

#include "comm/comm.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/model.h"

typedef struct {
    bool asked; /* rank 0: --resume was given */
    bool found;
    ckpt_state st;
    float *host; /* parameters, m, v, state: ckpt_host_floats() */
    char path[4096];
} resume_point;

/* Rank 0: finds and reads the checkpoint, and checks it continues this
 * configuration: the same model, trained alike (checkpoint_model.h; but
 * for the "LAYER.KEY"s of `allowed`, which may differ), the seed, batch
 * size and steps per epoch. Warnings go to warn. */
int resume_find(resume_point *rp, const char *how, const char *dir, const model *m,
                const config *cfg, const char *const *allowed, int n_allowed, long steps_per_epoch,
                FILE *warn);

/* Every rank: receives rank 0's resume point and, when one was found, loads
 * it into the model (with sharded moments, each rank its own pieces of
 * them: the checkpoint holds them whole, whoever wrote it). A failure on
 * one rank fails every rank, with its message (comm_gate). The host copy
 * is freed on return: only found, st and path remain. */
int resume_share(resume_point *rp, model *m, const comm_info *ci);

void resume_free(resume_point *rp);

#endif
