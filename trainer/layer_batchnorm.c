/* batchnorm: y = act(gamma * (x - mean) / sqrt(var + eps) + beta), per
 * channel (per feature for flat rows), as PyTorch's BatchNorm1d/2d.
 *
 * Training normalizes with the batch's statistics; with sync = true they are
 * the statistics of the whole global batch, summed over all ranks, so N
 * ranks compute what 1 rank would (and the backward pass sums its two
 * per-channel terms over the ranks too, as PyTorch's SyncBatchNorm does).
 * The running statistics (PyTorch's momentum convention, unbiased variance)
 * are kept in the model's state and used for evaluation. Statistics are made
 * on the backend (math_bn_stats), so on a GPU a step waits for the host
 * only where sync sums them over several ranks. */
#include <stdlib.h>

#include "comm/comm.h"
#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

typedef struct {
    float *xhat;  /* the normalized input, kept for backward */
    float *stats; /* backend: mean, invstd, mean_dz, mean_dzxhat (C each) */
    double *sums; /* backend: two per-channel sums (2C) */
    double *host; /* host: the sums and the count, to sum over ranks (2C + 1) */
} bn_impl;

static int channels(const layer *l)
{
    return l->in_shape[0];
}

static int inner(const layer *l)
{
    return l->in_shape[1] * l->in_shape[2];
}

static int bn_shape(layer *l, const layer_cfg *c, const int in[3])
{
    if (layer_refuse_sequence(l, true) < 0)
        return -1;
    l->act = (act_kind)c->activation;
    for (int i = 0; i < 3; i++)
        l->out_shape[i] = in[i];
    int ch[1] = {in[0]};
    layer_add_tensor(l, "weight", false, 1, ch);
    layer_add_tensor(l, "bias", false, 1, ch);
    layer_add_tensor(l, "running_mean", true, 1, ch);
    layer_add_tensor(l, "running_var", true, 1, ch);
    return 0;
}

static int bn_alloc(model *m, layer *l, int max_rows)
{
    backend *be = m->be;
    int c = channels(l);
    bn_impl *b = calloc(1, sizeof *b);
    l->impl = b;
    if (!b || !(b->host = malloc(sizeof(double) * (2 * (size_t)c + 1))))
        return err_set("out of host memory for batch norm");
    if (layer_alloc_output(m, l, max_rows) < 0 ||
        be->alloc(be, (void **)&b->xhat, sizeof(float) * (size_t)max_rows * l->out) < 0 ||
        be->alloc(be, (void **)&b->stats, sizeof(float) * 4 * (size_t)c) < 0 ||
        be->alloc(be, (void **)&b->sums, sizeof(double) * 2 * (size_t)c) < 0)
        return -1;
    return 0;
}

static void bn_init(const layer *l, uint64_t seed, float *params, float *state)
{
    (void)seed;
    int c = channels(l);
    float *beta = layer_init_place(l, params, 1);
    for (int i = 0; i < c; i++) {
        params[i] = 1.0f; /* gamma */
        beta[i] = 0.0f;
        state[i] = 0.0f;     /* running mean */
        state[c + i] = 1.0f; /* running variance */
    }
}

/* The count of values behind the sums of `rows` rows: with sync on several
 * ranks, the sums and the count become those of every rank's rows. Only
 * then does the step wait for the host; otherwise it all stays queued on
 * the backend. */
static int total(const layer *l, backend *be, bn_impl *b, int rows, double *count)
{
    int c = channels(l);
    *count = (double)rows * inner(l);
    if (!l->cfg->sync || comm_size() == 1)
        return 0;
    size_t bytes = sizeof(double) * 2 * (size_t)c;
    b->host[2 * c] = *count;
    if (be->download(be, b->host, b->sums, bytes) < 0 ||
        comm_allreduce_sum_f64(b->host, 2 * (size_t)c + 1) < 0 ||
        be->upload(be, b->sums, b->host, bytes) < 0)
        return -1;
    *count = b->host[2 * c];
    return 0;
}

static int bn_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    backend *be = m->be;
    bn_impl *b = l->impl;
    int c = channels(l);
    float *run_mean = m->state + l->state_offset, *run_var = run_mean + c;
    const double *sums = NULL; /* evaluation: the running statistics */
    double count = 0.0;
    if (train) {
        if (be->channel_sums(be, x, x, rows, c, inner(l), b->sums) < 0 ||
            total(l, be, b, rows, &count) < 0)
            return -1;
        sums = b->sums;
    }
    if (be->bn_stats(be, sums, count, c, l->cfg->eps, l->cfg->momentum, b->stats, b->stats + c,
                     run_mean, run_var) < 0 ||
        be->bn_forward(be, x, b->xhat, l->z, l->y, b->stats, b->stats + c, l->w, l->b, rows, c,
                       inner(l), l->act) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int bn_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    (void)x;
    backend *be = m->be;
    bn_impl *b = l->impl;
    int c = channels(l);
    float *g = l->grad;
    if (l->act != ACT_NONE &&
        be->act_backward(be, g, g, l->z, l->y, (size_t)rows * l->out, l->act) < 0)
        return -1;
    /* d gamma = sum of dz * xhat, d beta = sum of dz, over this rank's rows */
    if (be->channel_sums(be, g, b->xhat, rows, c, inner(l), b->sums) < 0 ||
        be->sums_to_float(be, l->dw, b->sums + c, (size_t)c, 1.0) < 0 ||
        be->sums_to_float(be, l->db, b->sums, (size_t)c, 1.0) < 0)
        return -1;
    if (!dx)
        return 0;
    double count;
    float *mean_dz = b->stats + 2 * c;
    if (total(l, be, b, rows, &count) < 0 ||
        be->sums_to_float(be, mean_dz, b->sums, 2 * (size_t)c, count) < 0)
        return -1;
    return be->bn_backward(be, g, b->xhat, dx, l->w, b->stats + c, mean_dz, mean_dz + c, rows, c,
                           inner(l));
}

static void bn_release(model *m, layer *l)
{
    bn_impl *b = l->impl;
    if (!b)
        return;
    m->be->release(m->be, b->xhat);
    m->be->release(m->be, b->stats);
    m->be->release(m->be, b->sums);
    free(b->host);
    free(b);
    l->impl = NULL;
}

static double bn_flops(const layer *l)
{
    return 4.0 * l->out;
}

static const config_key bn_keys[] = {
    {"layer", "momentum", KT_REAL, LAYER_FIELD(momentum), "0.1", 0, 1, CK_TRAINS, NULL,
     "weight of the batch in the running statistics (PyTorch's convention)", false},
    LAYER_KEY_EPS("added to the variance"),
    {"layer", "sync", KT_BOOL, LAYER_FIELD(sync), "true", 0, 0, CK_TRAINS, NULL,
     "batch statistics over all ranks (so N ranks equal 1 rank)", false},
    LAYER_KEY_ACTIVATION("applied to the output"),
    {0},
};

const layer_ops layer_batchnorm_ops = {
    .name = "batchnorm",
    .summary = "batch normalization per channel (per feature for flat input), as BatchNorm1d/2d",
    .keys = bn_keys,
    .flops = bn_flops,
    .shape = bn_shape,
    .alloc = bn_alloc,
    .init = bn_init,
    .forward = bn_forward,
    .backward = bn_backward,
    .release = bn_release,
};
