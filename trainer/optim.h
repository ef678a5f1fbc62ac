/* optim: one optimizer step over the model's flat buffers: the global
 * gradient norm, clipping (folded into the update as a scale), and Adam or
 * AdamW in a single pass (backend->adam). With the moments sharded
 * (m->shard, optimizer.shard), the norm and the update cover the pieces
 * this rank owns, whose gradients gshard_finish has summed: the norm is
 * then summed over the ranks (a collective), and the caller all-gathers
 * the parameters after the update (gshard_gather). */
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

/* Collective over the ranks of a sharded model (m->shard): every rank's
 * moments to root, into flat there (2 x n_params floats: m then v, the
 * flat layout, as a checkpoint's staging buffer holds them after the
 * parameters); flat is not read elsewhere. The ranks first agree that all
 * have their buffers, and then take part in every gather, so a failure
 * returns -1 without leaving a peer waiting. */
int optim_gather_moments(const model *m, int root, float *flat);

/* Puts whole moments (n_params floats each, the flat layout) into the
 * model: all of them, or, sharded, this rank's pieces (optim_shard.c). */
int optim_load_moments(model *m, const float *adam_m, const float *adam_v);

/* The hyper-parameters optim_step passes to the backend, exposed for tests. */
adam_hyper optim_hyper(const config *cfg, long step, double lr, double grad_norm);

#endif
