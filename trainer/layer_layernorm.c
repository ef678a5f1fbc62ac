/* layernorm: each position's C features (or a flat row's) normalized to
 * mean 0 and variance 1, then scaled and shifted per feature, as PyTorch's
 * LayerNorm over the last axis. Weight starts at 1, bias at 0. */
#include <stdlib.h>

#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

typedef struct {
    float *mean, *rstd; /* a row's, kept for backward */
} ln_impl;

/* The rows of a sample and their width. */
static int rows_of(const layer *l)
{
    return l->in_rank == 2 ? l->in_shape[0] : 1;
}

static int ln_shape(layer *l, const layer_cfg *c, const int in[3])
{
    (void)c;
    if (l->in_rank == 3)
        return err_set("its input is an image (%d, %d, %d); a layernorm takes a sequence (T, C) "
                       "or flat features",
                       in[0], in[1], in[2]);
    for (int i = 0; i < 3; i++)
        l->out_shape[i] = in[i];
    int w = l->in / rows_of(l);
    layer_add_tensor(l, "weight", false, 1, &w);
    layer_add_tensor(l, "bias", false, 1, &w);
    return 0;
}

static int ln_alloc(model *m, layer *l, int max_rows)
{
    ln_impl *n = calloc(1, sizeof *n);
    l->impl = n;
    if (!n)
        return err_set("out of host memory for a layernorm");
    size_t bytes = sizeof(float) * (size_t)max_rows * rows_of(l);
    if (layer_alloc_output(m, l, max_rows) < 0 ||
        m->be->alloc(m->be, (void **)&n->mean, bytes) < 0 ||
        m->be->alloc(m->be, (void **)&n->rstd, bytes) < 0)
        return -1;
    return 0;
}

static void ln_init(const layer *l, uint64_t seed, float *params, float *state)
{
    (void)seed, (void)state;
    for (size_t i = 0; i < l->n_weight; i++)
        params[i] = 1.0f;
    float *bias = layer_init_place(l, params, 1);
    for (size_t i = 0; i < l->n_bias; i++)
        bias[i] = 0.0f;
}

static int ln_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    (void)train;
    backend *be = m->be;
    ln_impl *n = l->impl;
    int r = rows_of(l);
    if (be->layernorm_forward(be, x, l->w, l->b, l->y, n->mean, n->rstd, rows * r, l->in / r,
                              (float)l->cfg->eps) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int ln_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    ln_impl *n = l->impl;
    int r = rows_of(l);
    return m->be->layernorm_backward(m->be, l->grad, x, l->w, n->mean, n->rstd, dx, l->dw, l->db,
                                     rows * r, l->in / r);
}

static int ln_step(model *m, layer *l, const float *x, int pos)
{
    ln_impl *n = l->impl;
    size_t c = (size_t)(l->in / rows_of(l));
    l->out_ptr = l->y;
    return m->be->layernorm_forward(m->be, x + pos * c, l->w, l->b, l->y + pos * c, n->mean + pos,
                                    n->rstd + pos, 1, (int)c, (float)l->cfg->eps);
}

static void ln_release(model *m, layer *l)
{
    ln_impl *n = l->impl;
    if (!n)
        return;
    m->be->release(m->be, n->mean);
    m->be->release(m->be, n->rstd);
    free(n);
    l->impl = NULL;
}

static double ln_flops(const layer *l)
{
    return 8.0 * l->out;
}

static const config_key ln_keys[] = {
    LAYER_KEY_EPS("added to the variance"),
    {0},
};

const layer_ops layer_layernorm_ops = {
    .name = "layernorm",
    .summary = "normalizes each position's features (or a flat row), then scales and shifts "
               "them, as LayerNorm",
    .keys = ln_keys,
    .flops = ln_flops,
    .shape = ln_shape,
    .alloc = ln_alloc,
    .init = ln_init,
    .forward = ln_forward,
    .backward = ln_backward,
    .step = ln_step,
    .release = ln_release,
};
