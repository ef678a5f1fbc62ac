#include "trainer/model.h"

#include <stdlib.h>
#include <string.h>

#include "trainer/err.h"

/* The implementation of each layer type; NULL where there is none yet. */
static const layer_ops *ops_for(layer_type t)
{
    switch (t) {
    case LAYER_DENSE:
        return &layer_dense_ops;
    case LAYER_DROPOUT:
        return &layer_dropout_ops;
    default:
        return NULL;
    }
}

/* Sizes every layer and lays the parameters out in the flat buffers. */
static int shape_layers(model *m, const config *cfg)
{
    int in = m->in_features;
    size_t offset = 0;
    for (int i = 0; i < m->n_layers; i++) {
        layer *l = &m->layers[i];
        const layer_cfg *c = &cfg->layers[i];
        l->ops = ops_for((layer_type)c->type);
        if (!l->ops) {
            char tname[32];
            layer_type_name(c->type, tname, sizeof tname);
            return err_set("%s:%d: layer type %s is not implemented yet", cfg->source, c->line,
                           tname);
        }
        l->index = i;
        l->type = (layer_type)c->type;
        config_layer_name(cfg, i, l->name, sizeof l->name);
        if (l->ops->shape(l, c, in) < 0)
            return err_prefix("%s:%d: layer %s", cfg->source, c->line, l->name);
        l->param_offset = offset;
        offset += l->n_weight + l->n_bias;
        in = l->out;
    }
    m->n_params = offset;
    m->classes = in;
    return 0;
}

static int alloc_buffers(model *m)
{
    backend *be = m->be;
    size_t pbytes = sizeof(float) * (m->n_params ? m->n_params : 1);
    if (be->alloc(be, (void **)&m->params, pbytes) < 0 ||
        be->alloc(be, (void **)&m->grads, pbytes) < 0 ||
        be->alloc(be, (void **)&m->adam_m, pbytes) < 0 ||
        be->alloc(be, (void **)&m->adam_v, pbytes) < 0 ||
        be->alloc(be, (void **)&m->stats, sizeof(float) * 2 * (size_t)m->max_rows) < 0)
        return -1;
    for (int s = 0; s < 3; s++)
        if (be->alloc(be, (void **)&m->x_slot[s],
                      sizeof(float) * (size_t)m->max_rows * m->in_features) < 0 ||
            be->alloc(be, (void **)&m->y_slot[s], sizeof(int32_t) * (size_t)m->max_rows) < 0)
            return -1;
    m->x = m->x_slot[MODEL_SLOT_OTHER];
    m->y = m->y_slot[MODEL_SLOT_OTHER];
    m->host_stats = malloc(sizeof(float) * 2 * (size_t)m->max_rows);
    if (!m->host_stats)
        return err_set("out of host memory");
    for (int i = 0; i < m->n_layers; i++) {
        layer *l = &m->layers[i];
        l->w = m->params + l->param_offset;
        l->b = l->w + l->n_weight;
        l->dw = m->grads + l->param_offset;
        l->db = l->dw + l->n_weight;
        if (l->ops->alloc(m, l, m->max_rows) < 0)
            return err_prefix("layer %s", l->name);
    }
    return 0;
}

model *model_build(const config *cfg, backend *be, const int in_shape[3], int max_rows)
{
    model *m = calloc(1, sizeof *m);
    if (!m) {
        err_set("out of host memory building the model");
        return NULL;
    }
    m->be = be;
    memcpy(m->in_shape, in_shape, sizeof m->in_shape);
    m->in_features = in_shape[0] * in_shape[1] * in_shape[2];
    m->max_rows = max_rows;
    m->n_layers = cfg->n_layers;
    m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m->layers || shape_layers(m, cfg) < 0 || alloc_buffers(m) < 0) {
        if (!m->layers)
            err_set("out of host memory building the model");
        model_free(m);
        return NULL;
    }
    return m;
}

int model_init_params(model *m, uint64_t seed)
{
    float *host = malloc(sizeof(float) * (m->n_params ? m->n_params : 1));
    if (!host)
        return err_set("out of host memory initializing parameters");
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        l->ops->init(l, seed, host + l->param_offset);
    }
    int rc = m->be->upload(m->be, m->params, host, sizeof(float) * m->n_params);
    free(host);
    return rc;
}

int model_forward(model *m, int rows, bool train)
{
    const float *x = m->x;
    for (int i = 0; i < m->n_layers; i++) {
        layer *l = &m->layers[i];
        if (l->ops->forward(m, l, x, rows, train) < 0)
            return err_prefix("forward of layer %s", l->name);
        x = l->out_ptr;
    }
    return 0;
}

int model_loss(model *m, int rows, float scale, bool grad, double *loss_sum, double *correct)
{
    backend *be = m->be;
    layer *last = &m->layers[m->n_layers - 1];
    if (be->xent(be, last->out_ptr, m->y, rows, m->classes, scale, grad ? last->grad : NULL,
                 m->stats) < 0)
        return -1;
    if (be->download(be, m->host_stats, m->stats, sizeof(float) * 2 * (size_t)rows) < 0)
        return -1;
    double l = 0.0, c = 0.0;
    for (int r = 0; r < rows; r++) {
        l += m->host_stats[2 * r];
        c += m->host_stats[2 * r + 1];
    }
    *loss_sum += l;
    *correct += c;
    return 0;
}

int model_backward_notify(model *m, int rows, model_grads_ready ready, void *ctx)
{
    for (int i = m->n_layers - 1; i >= 0; i--) {
        layer *l = &m->layers[i];
        const float *x = i > 0 ? m->layers[i - 1].out_ptr : m->x;
        float *dx = i > 0 ? m->layers[i - 1].grad : NULL;
        if (l->ops->backward(m, l, x, dx, rows) < 0)
            return err_prefix("backward of layer %s", l->name);
        if (ready && l->n_weight + l->n_bias > 0 && ready(ctx, l->param_offset) < 0)
            return -1;
    }
    return 0;
}

int model_backward(model *m, int rows)
{
    return model_backward_notify(m, rows, NULL, NULL);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int model_checksum(const model *m, uint64_t *sum)
{
    size_t bytes = sizeof(float) * m->n_params;
    float *host = malloc(bytes ? bytes : 1);
    if (!host)
        return err_set("out of host memory for the parameter checksum");
    const float *bufs[3] = {m->params, m->adam_m, m->adam_v};
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 3; i++) {
        if (m->be->download(m->be, host, bufs[i], bytes) < 0) {
            free(host);
            return -1;
        }
        h = fnv1a(h, host, bytes);
    }
    free(host);
    *sum = h;
    return 0;
}

void model_free(model *m)
{
    if (!m)
        return;
    backend *be = m->be;
    for (int i = 0; m->layers && i < m->n_layers; i++) {
        layer *l = &m->layers[i];
        if (l->z != l->y)
            be->release(be, l->z);
        be->release(be, l->y);
        be->release(be, l->grad);
    }
    be->release(be, m->params);
    be->release(be, m->grads);
    be->release(be, m->adam_m);
    be->release(be, m->adam_v);
    for (int s = 0; s < 3; s++) {
        be->release(be, m->x_slot[s]);
        be->release(be, m->y_slot[s]);
    }
    be->release(be, m->stats);
    free(m->host_stats);
    free(m->layers);
    free(m);
}
