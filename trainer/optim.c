#include "trainer/optim.h"

#include <math.h>

adam_hyper optim_hyper(const config *cfg, long step, double lr, double grad_norm)
{
    double t = (double)step + 1.0;
    adam_hyper h = {
        .lr = (float)lr,
        .beta1 = (float)cfg->beta1,
        .beta2 = (float)cfg->beta2,
        .eps = (float)cfg->eps,
        .one_minus_beta1 = (float)(1.0 - cfg->beta1),
        .one_minus_beta2 = (float)(1.0 - cfg->beta2),
        .weight_decay = cfg->optim_type == OPTIM_ADAMW ? (float)cfg->weight_decay : 0.0f,
        .l2 = cfg->optim_type == OPTIM_ADAM ? (float)cfg->weight_decay : 0.0f,
        .grad_scale = 1.0f,
        .bias_corr1 = (float)(1.0 - pow(cfg->beta1, t)),
        .bias_corr2_sqrt = (float)sqrt(1.0 - pow(cfg->beta2, t)),
    };
    /* As torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6). */
    if (cfg->clip_norm > 0.0 && grad_norm > cfg->clip_norm)
        h.grad_scale = (float)(cfg->clip_norm / (grad_norm + 1e-6));
    return h;
}

int optim_grad_norm(model *m, double *grad_norm)
{
    double sumsq;
    if (m->be->sumsq(m->be, m->grads, m->n_params, &sumsq) < 0)
        return -1;
    *grad_norm = sqrt(sumsq);
    return 0;
}

/* Adam over [from, to) of the flat buffers. */
static int adam_range(model *m, size_t from, size_t to, const adam_hyper *h)
{
    return m->be->adam(m->be, m->params + from, m->grads + from, m->adam_m + from, m->adam_v + from,
                       to - from, h);
}

/* decay = matrices: weight decay for the tensors of rank 2 or more (weights
 * and embeddings), none for biases and norm gains. Neighbouring tensors
 * alike go in one call; the zeros between tensors stay zero either way. */
static int apply_by_rank(model *m, const adam_hyper *h)
{
    adam_hyper plain = *h;
    plain.weight_decay = plain.l2 = 0.0f;
    size_t from = 0;
    int decayed = -1; /* of the run from `from` */
    for (int i = 0; i < m->n_layers; i++)
        for (int t = 0; t < m->layers[i].n_tensors; t++) {
            const layer_tensor *x = &m->layers[i].tensors[t];
            int d = x->rank >= 2;
            if (x->state || d == decayed)
                continue;
            if (decayed >= 0 && adam_range(m, from, x->offset, decayed ? h : &plain) < 0)
                return -1;
            from = decayed >= 0 ? x->offset : 0;
            decayed = d;
        }
    return decayed < 0 ? 0 : adam_range(m, from, m->n_params, decayed ? h : &plain);
}

int optim_apply(model *m, const config *cfg, long step, double lr, double grad_norm)
{
    adam_hyper h = optim_hyper(cfg, step, lr, grad_norm);
    if (cfg->decay == DECAY_MATRICES)
        return apply_by_rank(m, &h);
    return m->be->adam(m->be, m->params, m->grads, m->adam_m, m->adam_v, m->n_params, &h);
}

int optim_step(model *m, const config *cfg, long step, double lr, double *grad_norm)
{
    if (optim_grad_norm(m, grad_norm) < 0)
        return -1;
    return optim_apply(m, cfg, step, lr, *grad_norm);
}
