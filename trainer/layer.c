/* layer: what the layer types share: tensor bookkeeping, output buffers and
 * the uniform initializers. */
#include "trainer/layer.h"

#include <math.h>
#include <string.h>

#include "kernels/rng.h"
#include "trainer/model.h"

void layer_add_tensor(layer *l, const char *name, bool state, int rank, const int *dims)
{
    layer_tensor *t = &l->tensors[l->n_tensors++];
    *t = (layer_tensor){.name = name, .state = state, .rank = rank, .count = 1};
    for (int i = 0; i < rank; i++) {
        t->dims[i] = dims[i];
        t->count *= (size_t)dims[i];
    }
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

/* He-uniform: U(-sqrt(6 / fan_in), +); Glorot-uniform: U(-sqrt(6 / (fan_in +
 * fan_out)), +). Weight i of layer k is drawn from Philox (seed, INIT | k, 0,
 * i), so it does not depend on how many ranks or which backend. */
void layer_init_uniform(const layer *l, uint64_t seed, float *w, size_t n, double fan_in,
                        double fan_out)
{
    double fan = l->init == INIT_HE_UNIFORM ? fan_in : fan_in + fan_out;
    float bound = (float)sqrt(6.0 / fan);
    for (size_t i = 0; i < n; i++) {
        float u = rng_uniform(seed, RNG_STREAM_INIT | (uint32_t)l->index, 0, i);
        w[i] = (2.0f * u - 1.0f) * bound;
    }
}
