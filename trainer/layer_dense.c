/* dense: y = act(x W^T + b), W stored (out x in) row-major like nn.Linear.
 * An input of several channels is flattened (C, H, W order), as a dense
 * layer after a convolution expects. */
#include "trainer/err.h"
#include "trainer/layer.h"
#include "trainer/model.h"

static int dense_shape(layer *l, const layer_cfg *c, const int in[3])
{
    l->act = (act_kind)c->activation;
    l->init = (init_kind)c->init;
    if (l->init == INIT_AUTO)
        l->init =
            (l->act == ACT_RELU || l->act == ACT_GELU) ? INIT_HE_UNIFORM : INIT_GLOROT_UNIFORM;
    l->out_shape[0] = c->units;
    l->out_shape[1] = l->out_shape[2] = 1;
    (void)in; /* l->in, its product, is what a dense layer sees */
    layer_add_tensor(l, "weight", false, 2, (int[]){c->units, l->in});
    layer_add_tensor(l, "bias", false, 1, (int[]){c->units});
    return 0;
}

static void dense_init(const layer *l, uint64_t seed, float *params, float *state)
{
    (void)state;
    layer_init_uniform(l, seed, params, l->n_weight, l->in, l->out);
    for (size_t i = 0; i < l->n_bias; i++)
        params[l->n_weight + i] = 0.0f;
}

static int dense_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    (void)train;
    backend *be = m->be;
    if (be->gemm(be, false, true, rows, l->out, l->in, 1.0f, x, l->in, l->w, l->in, 0.0f, l->z,
                 l->out) < 0)
        return -1;
    if (be->bias_act_forward(be, l->z, l->y, l->b, rows, l->out, 1, l->act) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int dense_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    backend *be = m->be;
    float *g = l->grad;
    if (l->act != ACT_NONE &&
        be->act_backward(be, g, g, l->z, l->y, (size_t)rows * l->out, l->act) < 0)
        return -1;
    if (be->bias_grad(be, l->db, g, rows, l->out, 1) < 0)
        return -1;
    /* dW (out x in) = g^T (out x rows) . x (rows x in) */
    if (be->gemm(be, true, false, l->out, l->in, rows, 1.0f, g, l->out, x, l->in, 0.0f, l->dw,
                 l->in) < 0)
        return -1;
    /* dx (rows x in) = g (rows x out) . W (out x in) */
    if (dx && be->gemm(be, false, false, rows, l->in, l->out, 1.0f, g, l->out, l->w, l->in, 0.0f,
                       dx, l->in) < 0)
        return -1;
    return 0;
}

static double dense_flops(const layer *l)
{
    return 2.0 * l->in * l->out + l->out;
}

static const config_key dense_keys[] = {
    {"layer", "units", KT_INT, LAYER_FIELD(units), NULL, 1, 1 << 24, 0, NULL, "output features",
     true},
    LAYER_KEY_ACTIVATION("applied to the output"),
    LAYER_KEY_INIT("weight init (auto: he_uniform before relu/gelu, else glorot_uniform)"),
    {0},
};

const layer_ops layer_dense_ops = {
    .name = "dense",
    .summary = "fully connected: y = act(x W^T + b); an image input is flattened",
    .keys = dense_keys,
    .flops = dense_flops,
    .matmul = true,
    .shape = dense_shape,
    .alloc = layer_alloc_output,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
};
