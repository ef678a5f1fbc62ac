/* dense: y = act(x W^T + b), W stored (out x in) row-major like nn.Linear.
 * An image input is flattened (C, H, W order), as a dense layer after a
 * convolution expects; a sequence (T, C) is T rows of C, transformed at
 * each position with the same weights (nn.Linear on the last axis). */
#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

/* A sequence (T, C) is T rows of C: the layer applies at each position. */
static int positions(const layer *l)
{
    return l->in_rank == 2 ? l->in_shape[0] : 1;
}

static int dense_shape(layer *l, const layer_cfg *c, const int in[3])
{
    l->act = (act_kind)c->activation;
    l->init = (init_kind)c->init;
    if (l->init == INIT_AUTO)
        l->init =
            (l->act == ACT_RELU || l->act == ACT_GELU) ? INIT_HE_UNIFORM : INIT_GLOROT_UNIFORM;
    int t = positions(l), width = l->in / t;
    if (l->in_rank == 2) {
        l->out_shape[0] = t;
        l->out_shape[1] = c->units;
    } else { /* l->in, the product of an image's shape, is what it sees */
        l->out_shape[0] = c->units;
        l->out_shape[1] = 1;
        l->out_rank = 1;
    }
    l->out_shape[2] = 1;
    (void)in;
    if (!l->tied)
        layer_add_tensor(l, "weight", false, 2, (int[]){c->units, width});
    else if (c->units != l->tied->cfg->vocab || width != l->tied->cfg->units)
        return err_set("its weight is %s's wte (tie = true), (%d, %d), but it maps %d features to "
                       "%d",
                       l->tied->name, l->tied->cfg->vocab, l->tied->cfg->units, width, c->units);
    if (c->bias)
        layer_add_tensor(l, "bias", false, 1, (int[]){c->units});
    return 0;
}

static void dense_init(const layer *l, uint64_t seed, float *params, float *state)
{
    (void)state;
    int t = positions(l);
    if (!l->tied) /* a tied weight is the embedding's, initialized there */
        layer_init_weight(l, seed, params, l->n_weight, l->in / t, l->out / t);
    float *bias = l->n_bias ? layer_init_place(l, params, l->tied ? 0 : 1) : NULL;
    for (size_t i = 0; i < l->n_bias; i++)
        bias[i] = 0.0f;
}

static int dense_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    (void)train;
    backend *be = m->be;
    int t = positions(l), n = rows * t, in = l->in / t, out = l->out / t;
    if (be->gemm(be, false, true, n, out, in, 1.0f, x, in, l->w, in, 0.0f, l->z, out) < 0)
        return -1;
    if (be->bias_act_forward(be, l->z, l->y, l->b, n, out, 1, l->act) < 0) /* b may be NULL */
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int dense_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    backend *be = m->be;
    float *g = l->grad;
    int t = positions(l), n = rows * t, in = l->in / t, out = l->out / t;
    if (l->act != ACT_NONE &&
        be->act_backward(be, g, g, l->z, l->y, (size_t)rows * l->out, l->act) < 0)
        return -1;
    if (l->b && be->bias_grad(be, l->db, g, n, out, 1) < 0)
        return -1;
    /* dW (out x in) = g^T (out x n) . x (n x in) */
    if (be->gemm(be, true, false, out, in, n, 1.0f, g, out, x, in, 0.0f, l->dw, in) < 0)
        return -1;
    /* dx (n x in) = g (n x out) . W (out x in) */
    if (dx && be->gemm(be, false, false, n, in, out, 1.0f, g, out, l->w, in, 0.0f, dx, in) < 0)
        return -1;
    return 0;
}

static int dense_step(model *m, layer *l, const float *x, int pos)
{
    backend *be = m->be;
    if (l->in_rank != 2)
        return err_set("generation steps through sequences; this layer's input is not one");
    int t = positions(l), in = l->in / t, out = l->out / t;
    float *z = l->z + (size_t)pos * out, *y = l->y + (size_t)pos * out;
    l->out_ptr = l->y;
    if (be->gemm(be, false, true, 1, out, in, 1.0f, x + (size_t)pos * in, in, l->w, in, 0.0f, z,
                 out) < 0)
        return -1;
    return be->bias_act_forward(be, z, y, l->b, 1, out, 1, l->act);
}

static double dense_flops(const layer *l)
{
    return 2.0 * l->in * l->out / positions(l) + l->out;
}

static const config_key dense_keys[] = {
    LAYER_KEY_UNITS("output features"),
    {"layer", "bias", KT_BOOL, LAYER_FIELD(bias), "true", 0, 0, 0, NULL,
     "learn a bias per output (GPT-2's output layer has none)", false},
    LAYER_KEY_ACTIVATION("applied to the output"),
    LAYER_KEY_INIT("weight init (auto: he_uniform before relu/gelu, else glorot_uniform; gpt2: "
                   "N(0, 0.02), residual projections scaled by 1 / sqrt(the residual layers))"),
    {0},
};

const layer_ops layer_dense_ops = {
    .name = "dense",
    .summary = "fully connected: y = act(x W^T + b); an image input is flattened, a sequence "
               "(T, C) is transformed at each position",
    .keys = dense_keys,
    .flops = dense_flops,
    .matmul = true,
    .shape = dense_shape,
    .alloc = layer_alloc_output,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
    .step = dense_step,
};
