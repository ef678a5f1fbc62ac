/* flatten: (C, H, W) rows become (C*H*W, 1, 1) rows, the same memory. A
 * dense layer flattens its input by itself, so this layer only says so in
 * the config; it costs a copy of the gradient. */
#include "trainer/layer.h"
#include "trainer/model.h"

static int flatten_shape(layer *l, const layer_cfg *c, const int in[3])
{
    (void)c;
    l->out_shape[0] = in[0] * in[1] * in[2];
    l->out_shape[1] = l->out_shape[2] = 1;
    l->out_rank = 1;
    return 0;
}

static int flatten_alloc(model *m, layer *l, int max_rows)
{
    (void)max_rows; /* its output is its input's memory */
    return m->be->alloc(m->be, (void **)&l->grad, sizeof(float) * (size_t)m->train_rows * l->out);
}

static int flatten_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    (void)m, (void)rows, (void)train;
    l->out_ptr = x;
    return 0;
}

static int flatten_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    (void)x;
    if (!dx)
        return 0;
    return m->be->copy(m->be, dx, l->grad, sizeof(float) * (size_t)rows * l->out);
}

static double flatten_flops(const layer *l)
{
    (void)l;
    return 0.0;
}

static const config_key flatten_keys[] = {{0}};

const layer_ops layer_flatten_ops = {
    .name = "flatten",
    .summary = "(C, H, W) to C*H*W features, in that order",
    .keys = flatten_keys,
    .flops = flatten_flops,
    .shape = flatten_shape,
    .alloc = flatten_alloc,
    .forward = flatten_forward,
    .backward = flatten_backward,
};
