/* dense: y = act(x W^T + b), W stored (out x in) row-major like nn.Linear. */
#include <math.h>

#include "kernels/rng.h"
#include "trainer/err.h"
#include "trainer/layer.h"
#include "trainer/model.h"

static int dense_shape(layer *l, const layer_cfg *c, int in)
{
    l->in = in;
    l->out = c->units;
    l->act = (act_kind)c->activation;
    l->init = (init_kind)c->init;
    if (l->init == INIT_AUTO)
        l->init =
            (l->act == ACT_RELU || l->act == ACT_GELU) ? INIT_HE_UNIFORM : INIT_GLOROT_UNIFORM;
    l->n_weight = (size_t)l->out * (size_t)l->in;
    l->n_bias = (size_t)l->out;
    return 0;
}

static int dense_alloc(model *m, layer *l, int max_rows)
{
    backend *be = m->be;
    size_t bytes = sizeof(float) * (size_t)max_rows * (size_t)l->out;
    if (be->alloc(be, (void **)&l->y, bytes) < 0 || be->alloc(be, (void **)&l->grad, bytes) < 0)
        return -1;
    l->z = l->y;
    if (math_act_grad_needs_input(l->act) && be->alloc(be, (void **)&l->z, bytes) < 0)
        return -1;
    return 0;
}

/* He-uniform: U(-sqrt(6 / fan_in), +); Glorot-uniform: U(-sqrt(6 / (fan_in +
 * fan_out)), +). Weight i of layer k is drawn from Philox (seed, INIT | k, 0,
 * i), so it does not depend on how many ranks or which backend. Bias is 0. */
static void dense_init(const layer *l, uint64_t seed, float *params)
{
    double fan = l->init == INIT_HE_UNIFORM ? l->in : (double)l->in + l->out;
    float bound = (float)sqrt(6.0 / fan);
    for (size_t i = 0; i < l->n_weight; i++) {
        float u = rng_uniform(seed, RNG_STREAM_INIT | (uint32_t)l->index, 0, i);
        params[i] = (2.0f * u - 1.0f) * bound;
    }
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
    if (be->bias_act_forward(be, l->z, l->y, l->b, rows, l->out, l->act) < 0)
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
    if (be->bias_grad(be, l->db, g, rows, l->out) < 0)
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

const layer_ops layer_dense_ops = {
    .shape = dense_shape,
    .alloc = dense_alloc,
    .init = dense_init,
    .forward = dense_forward,
    .backward = dense_backward,
};
