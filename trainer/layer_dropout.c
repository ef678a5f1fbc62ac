/* dropout: inverted dropout in training, the identity in evaluation.
 *
 * The mask is never stored: element (r, c) of this rank's slice is keyed by
 * its global position in the batch, (first_row + r) * features + c, so the
 * backward pass recomputes it, and N ranks draw the same masks as 1 rank. */
#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

static int dropout_shape(layer *l, const layer_cfg *c, const int in[3])
{
    for (int i = 0; i < 3; i++)
        l->out_shape[i] = in[i];
    l->rate = (float)c->rate;
    return 0;
}

static uint64_t first_element(const model *m, const layer *l)
{
    return (uint64_t)m->first_row * (uint64_t)l->out;
}

static int dropout_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    if (!train || l->rate == 0.0f) {
        l->out_ptr = x;
        return 0;
    }
    backend *be = m->be;
    if (be->dropout_forward(be, l->y, x, (size_t)rows * l->out, l->rate, m->seed,
                            (uint32_t)l->index, m->step, first_element(m, l)) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int dropout_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    (void)x;
    if (!dx)
        return 0;
    backend *be = m->be;
    size_t n = (size_t)rows * l->out;
    if (l->rate == 0.0f)
        return be->copy(be, dx, l->grad, sizeof(float) * n);
    return be->dropout_backward(be, dx, l->grad, n, l->rate, m->seed, (uint32_t)l->index, m->step,
                                first_element(m, l));
}

/* Generation does not train: the identity. */
static int dropout_step(model *m, layer *l, const float *x, int pos)
{
    (void)m, (void)pos;
    l->out_ptr = x;
    return 0;
}

static const config_key dropout_keys[] = {
    {"layer", "rate", KT_REAL, LAYER_FIELD(rate), NULL, 0, 1, CK_HI_OPEN | CK_TRAINS, NULL,
     "probability of zeroing an element", true},
    {0},
};

const layer_ops layer_dropout_ops = {
    .name = "dropout",
    .summary = "training: zeroes elements at random and scales the rest by 1 / (1 - rate)",
    .keys = dropout_keys,
    .shape = dropout_shape,
    .alloc = layer_alloc_output,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .step = dropout_step,
};
