/* attention: causal multi-head self-attention over a sequence (T, C), as
 * GPT-2's: one projection to queries, keys and values (c_attn, 3C x C), per
 * head the scaled dot products of queries with the keys at or before their
 * position, softmax, dropout on those weights, their sum of the values, and
 * the heads' outputs projected back (c_proj, C x C). Weights are stored as
 * nn.Linear's (out, in), under nanoGPT's names. Dropout on the output is a
 * dropout layer after this one.
 *
 * Per row and head the products are T x hd by hd x T, then T x T by
 * T x hd, reading the heads in place from the (T, 3C) rows of queries,
 * keys and values through the leading dimension; each kind of product is
 * one strided-batched call per head (or per row, whichever are fewer):
 * a head's operands are evenly strided across rows, and a row's across
 * heads, but not both with one stride. */
#include <math.h>
#include <stdlib.h>

#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

enum { ATTN_W, ATTN_B, PROJ_W, PROJ_B };

typedef struct {
    float *qkv, *att, *dropped, *ctx; /* forward: (T, 3C), H x (T, T), ..., (T, C) a row */
    float *dqkv, *datt, *dctx;        /* backward, for train_rows */
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
    size_t seq = (size_t)d.t * d.c, sq = (size_t)d.heads * d.t * d.t, f = sizeof(float);
    size_t rows = (size_t)max_rows, train = (size_t)m->train_rows;
    if (layer_alloc_output(m, l, max_rows) < 0 ||
        be->alloc(be, (void **)&a->qkv, f * rows * 3 * seq) < 0 ||
        be->alloc(be, (void **)&a->att, f * rows * sq) < 0 ||
        (l->rate > 0 && be->alloc(be, (void **)&a->dropped, f * train * sq) < 0) ||
        be->alloc(be, (void **)&a->ctx, f * rows * seq) < 0 ||
        be->alloc(be, (void **)&a->dqkv, f * train * 3 * seq) < 0 ||
        be->alloc(be, (void **)&a->datt, f * train * sq) < 0 ||
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

/* An operand of the per-(row, head) products: its first matrix, leading
 * dimension, and the strides (in floats) from one row, and one head, to
 * the next. */
typedef struct {
    const float *p;
    int ld;
    long long row, head;
} operand;

/* C(r, h) = op(A(r, h)) op(B(r, h)) for every row r < rows and head h:
 * one gemm_strided_batched over heads for each row, or over rows for each
 * head, whichever takes fewer calls. */
static int heads_gemm(backend *be, const attn_dims *d, int rows, bool ta, bool tb, int m, int n,
                      int k, operand a, operand b, float *c, int ldc, long long c_row,
                      long long c_head)
{
    bool by_row = rows < d->heads; /* a call per row, its heads the batch */
    int calls = by_row ? rows : d->heads, batch = by_row ? d->heads : rows;
    long long sa = by_row ? a.head : a.row, sb = by_row ? b.head : b.row;
    long long sc = by_row ? c_head : c_row;
    for (int i = 0; i < calls; i++) {
        long long oa = i * (by_row ? a.row : a.head), ob = i * (by_row ? b.row : b.head);
        long long oc = i * (by_row ? c_row : c_head);
        if (be->gemm_strided_batched(be, ta, tb, m, n, k, 1.0f, a.p + oa, a.ld, sa, b.p + ob, b.ld,
                                     sb, 0.0f, c + oc, ldc, sc, batch) < 0)
            return -1;
    }
    return 0;
}

/* The global position of this rank's first attention weight, for the
 * dropout mask: N ranks draw what 1 rank does. */
static uint64_t first_weight(const model *m, const attn_dims *d)
{
    return (uint64_t)m->first_row * (uint64_t)d->heads * d->t * d->t;
}

/* x (rows, T, C) -> y: the projections around the heads' attention. */
static int attn_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    backend *be = m->be;
    attn_impl *a = l->impl;
    attn_dims d = dims_of(l);
    int n = rows * d.t, c3 = 3 * d.c;
    size_t sq = (size_t)d.t * d.t;
    if (be->gemm(be, false, true, n, c3, d.c, 1.0f, x, d.c, layer_tensor_at(m, l, ATTN_W, false),
                 d.c, 0.0f, a->qkv, c3) < 0 ||
        be->bias_act_forward(be, a->qkv, a->qkv, layer_tensor_at(m, l, ATTN_B, false), n, c3, 1,
                             ACT_NONE) < 0)
        return -1;
    long long row = (long long)d.t * c3, sqh = (long long)d.heads * (long long)sq;
    operand q = {a->qkv, c3, row, d.hd}, k = {a->qkv + d.c, c3, row, d.hd};
    if (heads_gemm(be, &d, rows, false, true, d.t, d.t, d.hd, q, k, a->att, d.t, sqh,
                   (long long)sq) < 0)
        return -1;
    size_t all = (size_t)rows * d.heads * sq;
    if (be->causal_softmax(be, a->att, rows * d.heads, d.t, d.scale) < 0)
        return -1;
    const float *p = a->att;
    if (train && l->rate > 0) {
        if (be->dropout_forward(be, a->dropped, a->att, all, l->rate, m->seed, (uint32_t)l->index,
                                m->step, first_weight(m, &d)) < 0)
            return -1;
        p = a->dropped;
    }
    operand w = {p, d.t, sqh, (long long)sq}, v = {a->qkv + 2 * d.c, c3, row, d.hd};
    if (heads_gemm(be, &d, rows, false, false, d.t, d.hd, d.t, w, v, a->ctx, d.c,
                   (long long)d.t * d.c, d.hd) < 0)
        return -1;
    if (be->gemm(be, false, true, n, d.c, d.c, 1.0f, a->ctx, d.c,
                 layer_tensor_at(m, l, PROJ_W, false), d.c, 0.0f, l->y, d.c) < 0 ||
        be->bias_act_forward(be, l->y, l->y, layer_tensor_at(m, l, PROJ_B, false), n, d.c, 1,
                             ACT_NONE) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

/* From d ctx: d of the weights (through the dropout and the softmax) and
 * of the values, then of the queries and keys, into dqkv. */
static int heads_backward(model *m, layer *l, const attn_dims *d, int rows)
{
    backend *be = m->be;
    attn_impl *a = l->impl;
    int c3 = 3 * d->c;
    size_t sq = (size_t)d->t * d->t, all = (size_t)rows * d->heads * sq;
    long long row = (long long)d->t * c3, sqh = (long long)d->heads * (long long)sq;
    operand p = {l->rate > 0 ? a->dropped : a->att, d->t, sqh, (long long)sq};
    operand dc = {a->dctx, d->c, (long long)d->t * d->c, d->hd};
    operand q = {a->qkv, c3, row, d->hd}, k = {a->qkv + d->c, c3, row, d->hd};
    operand v = {a->qkv + 2 * d->c, c3, row, d->hd};
    if (heads_gemm(be, d, rows, false, true, d->t, d->t, d->hd, dc, v, a->datt, d->t, sqh,
                   (long long)sq) < 0 ||
        heads_gemm(be, d, rows, true, false, d->t, d->hd, d->t, p, dc, a->dqkv + 2 * d->c, c3, row,
                   d->hd) < 0)
        return -1;
    if (l->rate > 0 && be->dropout_backward(be, a->datt, a->datt, all, l->rate, m->seed,
                                            (uint32_t)l->index, m->step, first_weight(m, d)) < 0)
        return -1;
    if (be->causal_softmax_backward(be, a->datt, a->att, rows * d->heads, d->t, d->scale) < 0)
        return -1;
    operand ds = {a->datt, d->t, sqh, (long long)sq};
    if (heads_gemm(be, d, rows, false, false, d->t, d->hd, d->t, ds, k, a->dqkv, c3, row, d->hd) <
            0 ||
        heads_gemm(be, d, rows, true, false, d->t, d->hd, d->t, ds, q, a->dqkv + d->c, c3, row,
                   d->hd) < 0)
        return -1;
    return 0;
}

static int attn_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    backend *be = m->be;
    attn_impl *a = l->impl;
    attn_dims d = dims_of(l);
    int n = rows * d.t, c3 = 3 * d.c;
    const float *g = l->grad;
    /* the output projection: d c_proj, d ctx */
    if (be->bias_grad(be, layer_tensor_at(m, l, PROJ_B, true), g, n, d.c, 1) < 0 ||
        be->gemm(be, true, false, d.c, d.c, n, 1.0f, g, d.c, a->ctx, d.c, 0.0f,
                 layer_tensor_at(m, l, PROJ_W, true), d.c) < 0 ||
        be->gemm(be, false, false, n, d.c, d.c, 1.0f, g, d.c, layer_tensor_at(m, l, PROJ_W, false),
                 d.c, 0.0f, a->dctx, d.c) < 0)
        return -1;
    if (heads_backward(m, l, &d, rows) < 0)
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

/* Position pos of row 0: its query, key and value into the cache (qkv),
 * each head's weights over the keys up to pos, and the projection. */
static int attn_step(model *m, layer *l, const float *x, int pos)
{
    backend *be = m->be;
    attn_impl *a = l->impl;
    attn_dims d = dims_of(l);
    int c3 = 3 * d.c;
    float *qkv = a->qkv + (size_t)pos * c3, *ctx = a->ctx + (size_t)pos * d.c;
    l->out_ptr = l->y;
    if (be->gemm(be, false, true, 1, c3, d.c, 1.0f, x + (size_t)pos * d.c, d.c,
                 layer_tensor_at(m, l, ATTN_W, false), d.c, 0.0f, qkv, c3) < 0 ||
        be->bias_act_forward(be, qkv, qkv, layer_tensor_at(m, l, ATTN_B, false), 1, c3, 1,
                             ACT_NONE) < 0)
        return -1;
    /* row 0's heads, each a row of weights (row pos of its T x T) */
    long long sq = (long long)d.t * d.t;
    float *rows = a->att + (size_t)pos * d.t;
    operand q = {qkv, c3, 0, d.hd}, k = {a->qkv + d.c, c3, 0, d.hd};
    operand w = {rows, d.t, 0, sq}, v = {a->qkv + 2 * d.c, c3, 0, d.hd};
    if (heads_gemm(be, &d, 1, false, true, 1, pos + 1, d.hd, q, k, rows, d.t, 0, sq) < 0)
        return -1;
    for (int h = 0; h < d.heads; h++)
        if (be->causal_softmax_row(be, rows + h * sq, pos, d.t, d.scale) < 0)
            return -1;
    if (heads_gemm(be, &d, 1, false, false, 1, d.hd, pos + 1, w, v, ctx, d.c, 0, d.hd) < 0)
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
    float *bufs[] = {a->qkv, a->att, a->dropped, a->ctx, a->dqkv, a->datt, a->dctx};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
        if (bufs[i])
            m->be->release(m->be, bufs[i]);
    free(a);
    l->impl = NULL;
}

/* The four products, the T x T ones in full (the mask is applied after). */
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
