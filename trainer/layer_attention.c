/* attention: causal multi-head self-attention over a sequence (T, C), as
 * GPT-2's: one projection to queries, keys and values (c_attn, 3C x C), per
 * head the scaled dot products of queries with the keys at or before their
 * position, softmax, dropout on those weights, their sum of the values, and
 * the heads' outputs projected back (c_proj, C x C). Weights are stored as
 * nn.Linear's (out, in), under nanoGPT's names. Dropout on the output is a
 * dropout layer after this one.
 *
 * Between the projections, the backend's fused attention
 * (attention_forward, attention_backward: FlashAttention-2's tiles and
 * online softmax), which keeps no T x T weights: what a layer holds
 * besides the projections' inputs and outputs is each query's log-sum-exp
 * of its scores (heads x T floats a row), from which the backward
 * recomputes the weights. Their dropout mask is a function of each
 * weight's position, drawn again in the backward. */
#include <math.h>
#include <stdlib.h>

#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

enum { ATTN_W, ATTN_B, PROJ_W, PROJ_B };

typedef struct {
    float *qkv, *ctx, *lse; /* forward: (T, 3C), (T, C), heads x T a row */
    float *dqkv, *dctx;     /* backward, for train_rows */
} attn_impl;

typedef struct {
    int t, c, heads, hd;
    float scale; /* 1 / sqrt(hd) */
} attn_dims;

static attn_dims dims_of(const layer *l)
{
    attn_dims d = {.t = l->in_shape[0], .c = l->in_shape[1], .heads = l->cfg->heads};
    d.hd = d.c / d.heads;
    d.scale = (float)(1.0 / sqrt((double)d.hd));
    return d;
}

static int attn_shape(layer *l, const layer_cfg *c, const int in[3])
{
    if (l->in_rank != 2)
        return err_set("an attention layer takes a sequence (T, C); its input is not one");
    if (in[1] % c->heads)
        return err_set("heads = %d does not divide the %d features of its input", c->heads, in[1]);
    for (int i = 0; i < 3; i++)
        l->out_shape[i] = in[i];
    l->rate = (float)c->dropout;
    int ch = in[1];
    layer_add_tensor(l, "c_attn.weight", false, 2, (int[]){3 * ch, ch});
    layer_add_tensor(l, "c_attn.bias", false, 1, (int[]){3 * ch});
    layer_add_tensor(l, "c_proj.weight", false, 2, (int[]){ch, ch});
    layer_add_tensor(l, "c_proj.bias", false, 1, (int[]){ch});
    return 0;
}

static int attn_alloc(model *m, layer *l, int max_rows)
{
    backend *be = m->be;
    attn_dims d = dims_of(l);
    attn_impl *a = calloc(1, sizeof *a);
    l->impl = a;
    if (!a)
        return err_set("out of host memory for an attention layer");
    size_t seq = (size_t)d.t * d.c, f = sizeof(float);
    size_t rows = (size_t)max_rows, train = (size_t)m->train_rows;
    if (layer_alloc_output(m, l, max_rows) < 0 ||
        be->alloc(be, (void **)&a->qkv, f * rows * 3 * seq) < 0 ||
        be->alloc(be, (void **)&a->ctx, f * rows * seq) < 0 ||
        be->alloc(be, (void **)&a->lse, f * train * d.heads * d.t) < 0 ||
        be->alloc(be, (void **)&a->dqkv, f * train * 3 * seq) < 0 ||
        be->alloc(be, (void **)&a->dctx, f * train * seq) < 0)
        return -1;
    return 0;
}

/* GPT-2's: N(0, 0.02^2) weights, zero biases; c_proj, a residual
 * projection where a residual adds the output, scaled (init_scale). */
static void attn_init(const layer *l, uint64_t seed, float *params, float *state)
{
    (void)state;
    for (int t = ATTN_W; t <= PROJ_B; t++) {
        float *p = layer_init_place(l, params, t);
        if (t == ATTN_W || t == PROJ_W)
            layer_init_normal(l, seed, t, p, l->tensors[t].count,
                              t == PROJ_W ? 0.02 * l->init_scale : 0.02);
        else
            for (size_t i = 0; i < l->tensors[t].count; i++)
                p[i] = 0.0f;
    }
}

/* The global position of this rank's first attention weight, for the
 * dropout mask: N ranks draw what 1 rank does. */
static uint64_t first_weight(const model *m, const attn_dims *d)
{
    return (uint64_t)m->first_row * (uint64_t)d->heads * d->t * d->t;
}

/* The fused attention over all T queries of `rows` rows, with the
 * weights' dropout when training. */
static attn_args args_of(const model *m, const layer *l, const attn_dims *d, int rows, bool train)
{
    return (attn_args){.rows = rows,
                       .t = d->t,
                       .c = d->c,
                       .heads = d->heads,
                       .q0 = 0,
                       .nq = d->t,
                       .scale = d->scale,
                       .rate = train ? l->rate : 0.0f,
                       .seed = m->seed,
                       .first = first_weight(m, d),
                       .layer = (uint32_t)l->index,
                       .step = m->step};
}

/* x (rows, T, C) -> y: the projections around the heads' attention. The
 * log-sum-exp is kept when training (lse holds train_rows); evaluation's
 * larger batches need none. */
static int attn_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    backend *be = m->be;
    attn_impl *a = l->impl;
    attn_dims d = dims_of(l);
    int n = rows * d.t, c3 = 3 * d.c;
    attn_args args = args_of(m, l, &d, rows, train);
    if (be->gemm(be, false, true, n, c3, d.c, 1.0f, x, d.c, layer_tensor_at(m, l, ATTN_W, false),
                 d.c, 0.0f, a->qkv, c3) < 0 ||
        be->bias_act_forward(be, a->qkv, a->qkv, layer_tensor_at(m, l, ATTN_B, false), n, c3, 1,
                             ACT_NONE) < 0 ||
        be->attention_forward(be, a->qkv, a->ctx, train ? a->lse : NULL, &args) < 0)
        return -1;
    if (be->gemm(be, false, true, n, d.c, d.c, 1.0f, a->ctx, d.c,
                 layer_tensor_at(m, l, PROJ_W, false), d.c, 0.0f, l->y, d.c) < 0 ||
        be->bias_act_forward(be, l->y, l->y, layer_tensor_at(m, l, PROJ_B, false), n, d.c, 1,
                             ACT_NONE) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int attn_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    backend *be = m->be;
    attn_impl *a = l->impl;
    attn_dims d = dims_of(l);
    int n = rows * d.t, c3 = 3 * d.c;
    const float *g = l->grad;
    attn_args args = args_of(m, l, &d, rows, true);
    /* the output projection: d c_proj, d ctx */
    if (be->bias_grad(be, layer_tensor_at(m, l, PROJ_B, true), g, n, d.c, 1) < 0 ||
        be->gemm(be, true, false, d.c, d.c, n, 1.0f, g, d.c, a->ctx, d.c, 0.0f,
                 layer_tensor_at(m, l, PROJ_W, true), d.c) < 0 ||
        be->gemm(be, false, false, n, d.c, d.c, 1.0f, g, d.c, layer_tensor_at(m, l, PROJ_W, false),
                 d.c, 0.0f, a->dctx, d.c) < 0)
        return -1;
    if (be->attention_backward(be, a->qkv, a->ctx, a->lse, a->dctx, a->dqkv, &args) < 0)
        return -1;
    /* the input projection: d c_attn, dx */
    if (be->bias_grad(be, layer_tensor_at(m, l, ATTN_B, true), a->dqkv, n, c3, 1) < 0 ||
        be->gemm(be, true, false, c3, d.c, n, 1.0f, a->dqkv, c3, x, d.c, 0.0f,
                 layer_tensor_at(m, l, ATTN_W, true), d.c) < 0)
        return -1;
    if (dx && be->gemm(be, false, false, n, d.c, c3, 1.0f, a->dqkv, c3,
                       layer_tensor_at(m, l, ATTN_W, false), d.c, 0.0f, dx, d.c) < 0)
        return -1;
    return 0;
}

/* Position pos of row 0: its query, key and value into the cache (qkv,
 * which holds the positions before from earlier steps), the fused
 * attention of that one query (q0 = pos, nq = 1), and the projection. */
static int attn_step(model *m, layer *l, const float *x, int pos)
{
    backend *be = m->be;
    attn_impl *a = l->impl;
    attn_dims d = dims_of(l);
    int c3 = 3 * d.c;
    float *qkv = a->qkv + (size_t)pos * c3, *ctx = a->ctx + (size_t)pos * d.c;
    attn_args args = args_of(m, l, &d, 1, false);
    args.q0 = pos;
    args.nq = 1;
    l->out_ptr = l->y;
    if (be->gemm(be, false, true, 1, c3, d.c, 1.0f, x + (size_t)pos * d.c, d.c,
                 layer_tensor_at(m, l, ATTN_W, false), d.c, 0.0f, qkv, c3) < 0 ||
        be->bias_act_forward(be, qkv, qkv, layer_tensor_at(m, l, ATTN_B, false), 1, c3, 1,
                             ACT_NONE) < 0 ||
        be->attention_forward(be, a->qkv, a->ctx, NULL, &args) < 0)
        return -1;
    float *y = l->y + (size_t)pos * d.c;
    if (be->gemm(be, false, true, 1, d.c, d.c, 1.0f, ctx, d.c, layer_tensor_at(m, l, PROJ_W, false),
                 d.c, 0.0f, y, d.c) < 0)
        return -1;
    return be->bias_act_forward(be, y, y, layer_tensor_at(m, l, PROJ_B, false), 1, d.c, 1,
                                ACT_NONE);
}

static void attn_release(model *m, layer *l)
{
    attn_impl *a = l->impl;
    if (!a)
        return;
    float *bufs[] = {a->qkv, a->ctx, a->lse, a->dqkv, a->dctx};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            m->be->release(m->be, bufs[i]);
    free(a);
    l->impl = NULL;
}

/* The four products, the T x T ones in full, as peers count them
 * (nanoGPT's and llm.c's model FLOPs, PyTorch's unfused products), so
 * that utilization figures stay comparable: the fused attention computes
 * only the causal half of the two T x T products (and in the backward
 * recomputes the scores and dW, five tile products where the unfused
 * path has four of the whole T x T). */
static double attn_flops(const layer *l)
{
    attn_dims d = dims_of(l);
    double t = d.t, c = d.c;
    return 2.0 * t * c * 3 * c + 4.0 * t * t * c + 2.0 * t * c * c;
}

static const config_key attn_keys[] = {
    {"layer", "heads", KT_INT, LAYER_FIELD(heads), NULL, 1, 4096, 0, NULL,
     "attention heads; they must divide the features C", true},
    {"layer", "dropout", KT_REAL, LAYER_FIELD(dropout), "0", 0, 1, CK_HI_OPEN | CK_TRAINS, NULL,
     "training: dropout on the attention weights", false},
    {0},
};

const layer_ops layer_attention_ops = {
    .name = "attention",
    .summary = "causal multi-head self-attention over a sequence (T, C), as GPT-2's",
    .keys = attn_keys,
    .flops = attn_flops,
    .matmul = true,
    .shape = attn_shape,
    .alloc = attn_alloc,
    .init = attn_init,
    .forward = attn_forward,
    .backward = attn_backward,
    .step = attn_step,
    .release = attn_release,
};
