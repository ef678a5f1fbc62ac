/* batchnorm: y = act(gamma * (x - mean) / sqrt(var + eps) + beta), per
 * channel (per feature for flat rows), as PyTorch's BatchNorm1d/2d.
 *
 * Training normalizes with the batch's statistics; with sync = true they are
 * the statistics of the whole global batch, summed over all ranks, so N
 * ranks compute what 1 rank would (and the backward pass sums its two
 * per-channel terms over the ranks too, as PyTorch's SyncBatchNorm does).
 * The running statistics (PyTorch's momentum convention, unbiased variance)
 * are kept in the model's state and used for evaluation. */
#include <math.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "trainer/err.h"
#include "trainer/layer.h"
#include "trainer/model.h"

typedef struct {
    float *xhat;     /* the normalized input, kept for backward */
    float *stats;    /* backend: mean, invstd, mean_dz, mean_dzxhat (C each) */
    double *scratch; /* backend: 2C doubles for channel_sums */
    double *sums;    /* host: two per-channel sums and the count */
    float *host;     /* host staging for the per-channel arrays (2C) */
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
    if (!b || !(b->sums = malloc(sizeof(double) * (2 * (size_t)c + 1))) ||
        !(b->host = malloc(sizeof(float) * 2 * (size_t)c)))
        return err_set("out of host memory for batch norm");
    if (layer_alloc_output(m, l, max_rows) < 0 ||
        be->alloc(be, (void **)&b->xhat, sizeof(float) * (size_t)max_rows * l->out) < 0 ||
        be->alloc(be, (void **)&b->stats, sizeof(float) * 4 * (size_t)c) < 0 ||
        be->alloc(be, (void **)&b->scratch, sizeof(double) * 2 * (size_t)c) < 0)
        return -1;
    return 0;
}

static void bn_init(const layer *l, uint64_t seed, float *params, float *state)
{
    (void)seed;
    int c = channels(l);
    for (int i = 0; i < c; i++) {
        params[i] = 1.0f;     /* gamma */
        params[c + i] = 0.0f; /* beta */
        state[i] = 0.0f;      /* running mean */
        state[c + i] = 1.0f;  /* running variance */
    }
}

/* Adds the count to the sums and, with sync, sums all three over the ranks.
 * Returns the count. */
static int total(const layer *l, bn_impl *b, int rows, double *count)
{
    int c = channels(l);
    b->sums[2 * c] = (double)rows * inner(l);
    if (l->cfg->sync && comm_allreduce_sum_f64(b->sums, 2 * (size_t)c + 1) < 0)
        return -1;
    *count = b->sums[2 * c];
    return 0;
}

/* The batch's mean and 1/std into host[0..C) and host[C..2C), and the
 * running statistics updated. */
static int batch_stats(model *m, layer *l, const float *x, int rows)
{
    bn_impl *b = l->impl;
    int c = channels(l);
    double count;
    if (m->be->channel_sums(m->be, x, x, rows, c, inner(l), b->scratch, b->sums) < 0 ||
        total(l, b, rows, &count) < 0)
        return -1;
    float *rmean = m->state + l->state_offset, *rvar = rmean + c;
    double mom = l->cfg->momentum;
    for (int i = 0; i < c; i++) {
        double mean = b->sums[i] / count;
        double var = b->sums[c + i] / count - mean * mean;
        if (var < 0.0)
            var = 0.0;
        b->host[i] = (float)mean;
        b->host[c + i] = (float)(1.0 / sqrt(var + l->cfg->eps));
        double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
        rmean[i] = (float)((1.0 - mom) * rmean[i] + mom * mean);
        rvar[i] = (float)((1.0 - mom) * rvar[i] + mom * unbiased);
    }
    return 0;
}

static void running_stats(model *m, layer *l)
{
    bn_impl *b = l->impl;
    int c = channels(l);
    const float *rmean = m->state + l->state_offset, *rvar = rmean + c;
    for (int i = 0; i < c; i++) {
        b->host[i] = rmean[i];
        b->host[c + i] = (float)(1.0 / sqrt((double)rvar[i] + l->cfg->eps));
    }
}

static int bn_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    backend *be = m->be;
    bn_impl *b = l->impl;
    int c = channels(l);
    if (train) {
        if (batch_stats(m, l, x, rows) < 0)
            return -1;
    } else {
        running_stats(m, l);
    }
    if (be->upload(be, b->stats, b->host, sizeof(float) * 2 * (size_t)c) < 0 ||
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
    if (be->channel_sums(be, g, b->xhat, rows, c, inner(l), b->scratch, b->sums) < 0)
        return -1;
    /* d gamma = sum of dz * xhat, d beta = sum of dz, over this rank's rows */
    for (int i = 0; i < c; i++) {
        b->host[i] = (float)b->sums[c + i];
        b->host[c + i] = (float)b->sums[i];
    }
    if (be->upload(be, l->dw, b->host, sizeof(float) * c) < 0 ||
        be->upload(be, l->db, b->host + c, sizeof(float) * c) < 0)
        return -1;
    if (!dx)
        return 0;
    double count;
    if (total(l, b, rows, &count) < 0)
        return -1;
    for (int i = 0; i < c; i++) {
        b->host[i] = (float)(b->sums[i] / count);
        b->host[c + i] = (float)(b->sums[c + i] / count);
    }
    float *mean_dz = b->stats + 2 * c;
    if (be->upload(be, mean_dz, b->host, sizeof(float) * 2 * (size_t)c) < 0)
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
    m->be->release(m->be, b->scratch);
    free(b->sums);
    free(b->host);
    free(b);
    l->impl = NULL;
}

const layer_ops layer_batchnorm_ops = {
    .shape = bn_shape,
    .alloc = bn_alloc,
    .init = bn_init,
    .forward = bn_forward,
    .backward = bn_backward,
    .release = bn_release,
};
