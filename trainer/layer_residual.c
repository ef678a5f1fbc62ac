/* residual (Darknet's shortcut): y = act(x + the output of the layer `from`
 * back), so ResNet blocks can be written in the config. model.c checks that
 * the two shapes agree and, in backward, adds this layer's gradient to the
 * source layer's once the source's own successor has written it. */
#include "trainer/layer.h"
#include "trainer/model.h"

static int residual_shape(layer *l, const layer_cfg *c, const int in[3])
{
    l->act = (act_kind)c->activation;
    for (int i = 0; i < 3; i++)
        l->out_shape[i] = in[i];
    return 0;
}

static int residual_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    (void)train;
    backend *be = m->be;
    const layer *src = &m->layers[l->index + l->cfg->from];
    size_t n = (size_t)rows * l->out;
    if (be->add(be, l->z, x, src->out_ptr, n) < 0)
        return -1;
    if (l->act != ACT_NONE &&
        be->bias_act_forward(be, l->z, l->y, NULL, rows, l->out, 1, l->act) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int residual_step(model *m, layer *l, const float *x, int pos)
{
    backend *be = m->be;
    const layer *src = &m->layers[l->index + l->cfg->from];
    size_t c = (size_t)(l->out / l->out_shape[0]), at = (size_t)pos * c;
    l->out_ptr = l->y;
    if (be->add(be, l->z + at, x + at, src->out_ptr + at, c) < 0)
        return -1;
    return l->act == ACT_NONE
               ? 0
               : be->bias_act_forward(be, l->z + at, l->y + at, NULL, 1, (int)c, 1, l->act);
}

static int residual_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    (void)x;
    backend *be = m->be;
    size_t n = (size_t)rows * l->out;
    if (l->act != ACT_NONE && be->act_backward(be, l->grad, l->grad, l->z, l->y, n, l->act) < 0)
        return -1;
    return dx ? be->copy(be, dx, l->grad, sizeof(float) * n) : 0;
}

static const config_key residual_keys[] = {
    {"layer", "from", KT_INT, LAYER_FIELD(from), NULL, -1024, -1, 0, NULL,
     "adds the output of the layer this many back (-1: the previous one's input is not "
     "reachable; -2 and below)",
     true},
    LAYER_KEY_ACTIVATION("applied to the sum"),
    {0},
};

const layer_ops layer_residual_ops = {
    .name = "residual",
    .summary = "adds an earlier layer's output to its input (a shortcut, as Darknet's)",
    .keys = residual_keys,
    .shape = residual_shape,
    .alloc = layer_alloc_output,
    .forward = residual_forward,
    .backward = residual_backward,
    .step = residual_step,
};
