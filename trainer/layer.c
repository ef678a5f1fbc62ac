/* layer: what the layer types share: tensor bookkeeping, output buffers and
 * the uniform initializers. */
#include "trainer/layer.h"

#include <math.h>
#include <string.h>

#include "trainer/model.h"
#include "util/err.h"
#include "util/rng.h"

void layer_add_tensor(layer *l, const char *name, bool state, int rank, const int *dims)
{
    layer_tensor *t = &l->tensors[l->n_tensors++];
    *t = (layer_tensor){.name = name, .state = state, .rank = rank, .count = 1};
    for (int i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->count *= (size_t)dims[i];
    }
}

int layer_stride(const layer_cfg *c)
{
    if (c->stride)
        return c->stride;
    return c->type == LAYER_CONV2D ? 1 : c->size;
}

int layer_refuse_sequence(const layer *l, bool flat)
{
    if (l->in_rank != 2)
        return 0;
    return err_set("its input is a sequence (%d, %d), but a %s layer takes an image (C, H, W)%s",
                   l->in_shape[0], l->in_shape[1], l->ops->name, flat ? " or flat features" : "");
}

const layer_tensor *layer_find_tensor(const layer *l, const char *name)
{
    for (int i = 0; i < l->n_tensors; i++)
        if (!strcmp(l->tensors[i].name, name))
            return &l->tensors[i];
    return NULL;
}

int layer_alloc_output(model *m, layer *l, int max_rows)
{
    backend *be = m->be;
    size_t bytes = sizeof(float) * (size_t)max_rows * (size_t)l->out;
    size_t grad_bytes = sizeof(float) * (size_t)m->train_rows * (size_t)l->out;
    if (be->alloc(be, (void **)&l->y, bytes) < 0 ||
        be->alloc(be, (void **)&l->grad, grad_bytes) < 0)
        return -1;
    l->z = l->y;
    if (math_act_grad_needs_input(l->act) && be->alloc(be, (void **)&l->z, bytes) < 0)
        return -1;
    return 0;
}

float *layer_init_place(const layer *l, float *params, int t)
{
    return params + (l->tensors[t].offset - l->param_offset);
}

float *layer_tensor_at(const model *m, const layer *l, int t, bool grad)
{
    return (grad ? m->grads : m->params) + l->tensors[t].offset;
}

/* Box-Muller over two uniforms a value, drawn at step t + 1 of the layer's
 * stream (step 0 is the uniform initializers'). */
void layer_init_normal(const layer *l, uint64_t seed, int t, float *w, size_t n, double std)
{
    uint32_t stream = RNG_STREAM_INIT | (uint32_t)l->index;
    for (size_t i = 0; i < n; i++) {
        double u1 = rng_uniform(seed, stream, (uint32_t)t + 1, 2 * i);
        double u2 = rng_uniform(seed, stream, (uint32_t)t + 1, 2 * i + 1);
        double r = sqrt(-2.0 * log(1.0 - u1)); /* u1 < 1: log of (0, 1] */
        w[i] = (float)(std * r * cos(2.0 * M_PI * u2));
    }
}

/* He-uniform: U(-sqrt(6 / fan_in), +); Glorot-uniform: U(-sqrt(6 / (fan_in +
 * fan_out)), +); gpt2: N(0, (0.02 init_scale)^2). Weight i of layer k is
 * drawn from Philox (seed, INIT | k, 0, i), so it does not depend on how
 * many ranks or which backend. */
void layer_init_weight(const layer *l, uint64_t seed, float *w, size_t n, double fan_in,
                       double fan_out)
{
    if (l->init == INIT_GPT2) {
        layer_init_normal(l, seed, 0, w, n, 0.02 * l->init_scale);
        return;
    }
    double fan = l->init == INIT_HE_UNIFORM ? fan_in : fan_in + fan_out;
    float bound = (float)sqrt(6.0 / fan);
    for (size_t i = 0; i < n; i++) {
        float u = rng_uniform(seed, RNG_STREAM_INIT | (uint32_t)l->index, 0, i);
        w[i] = (2.0f * u - 1.0f) * bound;
    }
}
