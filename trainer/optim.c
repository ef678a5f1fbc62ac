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

int optim_apply(model *m, const config *cfg, long step, double lr, double grad_norm)
{
    adam_hyper h = optim_hyper(cfg, step, lr, grad_norm);
    return m->be->adam(m->be, m->params, m->grads, m->adam_m, m->adam_v, m->n_params, &h);
}

int optim_step(model *m, const config *cfg, long step, double lr, double *grad_norm)
{
    if (optim_grad_norm(m, grad_norm) < 0)
        return -1;
    return optim_apply(m, cfg, step, lr, *grad_norm);
}
