/* optim: one optimizer step over the model's flat buffers: the global
 * gradient norm, clipping (folded into the update as a scale), and Adam or
 * AdamW in a single pass (backend->adam). */
#ifndef ACCEL_OPTIM_H
#define ACCEL_OPTIM_H

#include "trainer/config.h"
#include "trainer/model.h"

/* Applies update number step + 1 (bias correction counts from 1) at
 * learning rate lr. *grad_norm gets the L2 norm of the gradient before
 * clipping. */
int optim_step(model *m, const config *cfg, long step, double lr, double *grad_norm);

/* optim_step in two halves, for a caller that looks at the norm before it
 * decides to update: the L2 norm of the gradient, then the update. */
int optim_grad_norm(model *m, double *grad_norm);
int optim_apply(model *m, const config *cfg, long step, double lr, double grad_norm);

/* The hyper-parameters optim_step passes to the backend, exposed for tests. */
adam_hyper optim_hyper(const config *cfg, long step, double lr, double grad_norm);

#endif
