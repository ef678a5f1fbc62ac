#include "trainer/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

/* n rounded up to a multiple of MODEL_ALIGN. */
static size_t aligned(size_t n)
{
    return (n + MODEL_ALIGN - 1) / MODEL_ALIGN * MODEL_ALIGN;
}

/* Places the layer's tensors: trained ones at *params in the flat buffers,
 * each aligned, kept ones at *state in the state buffer. */
static void place_tensors(layer *l, size_t *params, size_t *state)
{
    *params = aligned(*params); /* the layer's run, so its bucket, starts aligned */
    l->param_offset = *params;
    l->state_offset = *state;
    l->n_trained = 0;
    for (int t = 0; t < l->n_tensors; t++) {
        layer_tensor *x = &l->tensors[t];
        if (!x->state) {
            *params = aligned(*params);
            l->n_trained += x->count;
        }
        size_t *at = x->state ? state : params;
        x->offset = *at;
        *at += x->count;
    }
    l->n_params = *params - l->param_offset;
    l->n_state = *state - l->state_offset;
    const layer_tensor *w = layer_find_tensor(l, "weight"), *b = layer_find_tensor(l, "bias");
    l->n_weight = w ? w->count : 0;
    l->n_bias = b ? b->count : 0;
}

/* rows x s[0] x s[1] x s[2] into *n, false when a dimension is below 1 or
 * the product passes MODEL_MAX_VALUES (computed without wrapping). */
static bool values_fit(const int s[3], int64_t rows, int64_t *n)
{
    int64_t v = rows;
    for (int i = 0; i < 3; i++)
        if (s[i] < 1 || __builtin_mul_overflow(v, (int64_t)s[i], &v) || v > MODEL_MAX_VALUES)
            return false;
    *n = v;
    return true;
}

/* Every buffer of a layer fits the kernels' int indexing: its output for
 * the largest pass, and each of its tensors. */
static int check_sizes(const model *m, const config *cfg, const layer *l)
{
    int64_t n;
    const int *s = l->out_shape;
    if (!values_fit(s, m->max_rows, &n))
        return err_set("%s:%d: layer %s: its output (%d, %d, %d) for %d rows is more than the "
                       "%lld values a buffer may hold",
                       cfg->source, l->cfg->line, l->name, s[0], s[1], s[2], m->max_rows,
                       (long long)MODEL_MAX_VALUES);
    for (int t = 0; t < l->n_tensors; t++)
        if (l->tensors[t].count > (size_t)MODEL_MAX_VALUES)
            return err_set("%s:%d: layer %s: its %s has %zu values, more than the %lld a "
                           "tensor may hold",
                           cfg->source, l->cfg->line, l->name, l->tensors[t].name,
                           l->tensors[t].count, (long long)MODEL_MAX_VALUES);
    return 0;
}

/* A residual adds a layer's output to its input: both must exist and agree. */
static int check_residual(model *m, const config *cfg, int i)
{
    const layer *l = &m->layers[i];
    int src = i + l->cfg->from;
    if (src < 0)
        return err_set("%s:%d: layer %s: from = %d reaches before the first layer", cfg->source,
                       l->cfg->line, l->name, l->cfg->from);
    const layer *s = &m->layers[src];
    const int *a = s->out_shape, *b = l->in_shape;
    if (a[0] != b[0] || a[1] != b[1] || a[2] != b[2] || s->out_rank != l->in_rank)
        return err_set("%s:%d: layer %s adds the output of layer %s, (%d, %d, %d), to its input, "
                       "(%d, %d, %d): the shapes must agree",
                       cfg->source, l->cfg->line, l->name, s->name, a[0], a[1], a[2], b[0], b[1],
                       b[2]);
    return 0;
}

static int shape_one(model *m, const config *cfg, int i, const int in[3])
{
    layer *l = &m->layers[i];
    const layer_cfg *c = &cfg->layers[i];
    l->ops = (size_t)c->type < LAYER_N_TYPES ? layer_types[c->type] : NULL;
    l->index = i;
    l->type = (layer_type)c->type;
    l->cfg = c;
    l->act = ACT_NONE;
    config_layer_name(cfg, i, l->name, sizeof l->name);
    if (!l->ops)
        return err_set("%s:%d: layer %s: this layer type is not implemented", cfg->source, c->line,
                       l->name);
    memcpy(l->in_shape, in, sizeof l->in_shape);
    l->init_scale = 1.0;
    const layer *first = &m->layers[0];
    l->tied = i > 0 && i == m->n_layers - 1 && first->type == LAYER_EMBEDDING && first->cfg->tie
                  ? first
                  : NULL;
    l->in = i > 0 ? m->layers[i - 1].out : m->in_features;
    l->in_rank = i > 0 ? m->layers[i - 1].out_rank : m->in_rank;
    l->out_rank = 0;
    bool tokens = i == 0 && m->in_tokens;
    if (tokens != l->ops->takes_tokens)
        return err_set("%s:%d: layer %s: %s", cfg->source, c->line, l->name,
                       tokens ? "the data are token ids, which only an embedding layer takes: "
                                "make it the first"
                              : "an embedding takes token ids: it must be the first layer, and "
                                "the data text or tokens");
    if (l->ops->shape(l, c, in) < 0)
        return err_prefix("%s:%d: layer %s", cfg->source, c->line, l->name);
    if (!l->out_rank)
        l->out_rank = l->in_rank;
    const int *s = l->out_shape;
    if (s[0] < 1 || s[1] < 1 || s[2] < 1)
        return err_set("%s:%d: layer %s: its input (%d, %d, %d) leaves no output", cfg->source,
                       c->line, l->name, in[0], in[1], in[2]);
    if (check_sizes(m, cfg, l) < 0)
        return -1;
    l->out = s[0] * s[1] * s[2]; /* fits: check_sizes */
    return l->type == LAYER_RESIDUAL ? check_residual(m, cfg, i) : 0;
}

/* GPT-2's initialization scales the residual projections: a layer whose
 * output (through dropouts) a residual adds to its input is one. */
static void mark_residual_projections(model *m)
{
    int residuals = 0;
    for (int i = 0; i < m->n_layers; i++)
        residuals += m->layers[i].type == LAYER_RESIDUAL;
    for (int i = 0; i < m->n_layers; i++) {
        int j = i + 1;
        while (j < m->n_layers && m->layers[j].type == LAYER_DROPOUT)
            j++;
        const layer *r = j < m->n_layers ? &m->layers[j] : NULL;
        if (r && r->type == LAYER_RESIDUAL && j + r->cfg->from != i)
            m->layers[i].init_scale = 1.0 / sqrt((double)residuals);
    }
}

/* Sizes every layer and lays the tensors out in the flat buffers. */
static int shape_layers(model *m, const config *cfg)
{
    const int *in = m->in_shape;
    size_t params = 0, state = 0;
    m->n_trained = 0;
    for (int i = 0; i < m->n_layers; i++) {
        if (shape_one(m, cfg, i, in) < 0)
            return -1;
        place_tensors(&m->layers[i], &params, &state);
        m->n_trained += m->layers[i].n_trained;
        in = m->layers[i].out_shape;
    }
    m->n_params = params;
    m->n_state = state;
    mark_residual_projections(m);
    const layer *last = &m->layers[m->n_layers - 1];
    bool sequence = last->out_rank == 2;
    m->positions = sequence ? last->out_shape[0] : 1;
    m->classes = sequence ? last->out_shape[1] : last->out;
    return 0;
}

/* The layer's views of its weight and bias in the flat buffers. */
static void set_views(model *m, layer *l)
{
    const layer_tensor *w = l->tied ? &l->tied->tensors[0] : layer_find_tensor(l, "weight"),
                       *b = layer_find_tensor(l, "bias");
    l->w = w ? m->params + w->offset : NULL;
    l->dw = w ? m->grads + w->offset : NULL;
    l->b = b ? m->params + b->offset : NULL;
    l->db = b ? m->grads + b->offset : NULL;
}

/* The moments' layout: whole, or this rank's pieces of the buckets the
 * sharded sync cuts at the layers' starts (comm/shard_plan.h). */
static int plan_moments(model *m, const model_input *in)
{
    m->n_moments = m->n_params;
    if (in->shard_ranks <= 1)
        return 0;
    size_t *starts = malloc(sizeof *starts * (size_t)(m->n_layers + 1));
    m->shard = calloc(1, sizeof *m->shard);
    if (!starts || !m->shard) {
        free(starts);
        return err_set("out of host memory building the model");
    }
    int n = 0;
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i].n_params > 0)
            starts[n++] = m->layers[i].param_offset;
    int rc = shard_plan_make(m->shard, starts, n, m->n_params, shard_bucket_floats(in->bucket_mb),
                             in->shard_ranks);
    free(starts);
    m->shard_rank = in->shard_rank;
    m->n_moments = m->shard->shard_floats;
    return rc;
}

static int alloc_buffers(model *m)
{
    backend *be = m->be;
    size_t pbytes = sizeof(float) * (m->n_params ? m->n_params : 1);
    size_t mbytes = sizeof(float) * (m->n_moments ? m->n_moments : 1);
    size_t targets = (size_t)m->max_rows * (size_t)m->positions;
    /* x holds floats or int32 token ids: the same bytes either way */
    _Static_assert(sizeof(float) == sizeof(int32_t), "a token id takes a float's place");
    if (be->alloc(be, (void **)&m->params, pbytes) < 0 ||
        be->alloc(be, (void **)&m->grads, pbytes) < 0 ||
        be->alloc(be, (void **)&m->adam_m, mbytes) < 0 ||
        be->alloc(be, (void **)&m->adam_v, mbytes) < 0 ||
        be->alloc(be, (void **)&m->stats, sizeof(float) * 2 * targets) < 0 ||
        be->alloc(be, (void **)&m->state, sizeof(float) * (m->n_state ? m->n_state : 1)) < 0)
        return -1;
    for (int s = 0; s < 3; s++)
        if (be->alloc(be, (void **)&m->x_slot[s],
                      sizeof(float) * (size_t)m->batch_rows * m->in_features) < 0 ||
            be->alloc(be, (void **)&m->y_slot[s],
                      sizeof(int32_t) * (size_t)m->batch_rows * m->positions) < 0)
            return -1;
    m->x = m->x_slot[MODEL_SLOT_OTHER];
    m->y = m->y_slot[MODEL_SLOT_OTHER];
    m->host_stats = malloc(sizeof(float) * 2 * targets);
    if (!m->host_stats)
        return err_set("out of host memory");
    for (int i = 0; i < m->n_layers; i++) {
        layer *l = &m->layers[i];
        if (!be->counting) /* a counting backend's buffers are NULL */
            set_views(m, l);
        if (l->ops->alloc(m, l, m->max_rows) < 0)
            return err_prefix("layer %s", l->name);
    }
    return 0;
}

model *model_build(const config *cfg, backend *be, const int in_shape[3], int max_rows)
{
    return model_build_sized(cfg, be, in_shape, max_rows, max_rows);
}

model *model_build_sized(const config *cfg, backend *be, const int in_shape[3], int train_rows,
                         int max_rows)
{
    model_input in = {.shape = {in_shape[0], in_shape[1], in_shape[2]}};
    return model_build_input(cfg, be, &in, train_rows, max_rows);
}

model *model_build_input(const config *cfg, backend *be, const model_input *input, int train_rows,
                         int max_rows)
{
    model *m = calloc(1, sizeof *m);
    if (!m) {
        err_set("out of host memory building the model");
        return NULL;
    }
    const int *in_shape = input->shape;
    m->be = be;
    memcpy(m->in_shape, in_shape, sizeof m->in_shape);
    m->in_tokens = input->tokens;
    m->in_rank = input->tokens ? 1 : 3;
    m->max_rows = max_rows > train_rows ? max_rows : train_rows;
    m->batch_rows = input->batch_rows > m->max_rows ? input->batch_rows : m->max_rows;
    int64_t in_values;
    if (!values_fit(in_shape, m->batch_rows, &in_values)) {
        err_set("the input, (%d, %d, %d) a sample for %d rows, is more than the %lld values a "
                "buffer may hold",
                in_shape[0], in_shape[1], in_shape[2], m->batch_rows, (long long)MODEL_MAX_VALUES);
        free(m);
        return NULL;
    }
    m->in_features = in_shape[0] * in_shape[1] * in_shape[2]; /* fits: values_fit */
    m->train_rows = train_rows;
    m->n_layers = cfg->n_layers;
    m->layers = calloc((size_t)cfg->n_layers, sizeof *m->layers);
    if (!m->layers || shape_layers(m, cfg) < 0 || plan_moments(m, input) < 0 ||
        alloc_buffers(m) < 0) {
        if (!m->layers)
            err_set("out of host memory building the model");
        model_free(m);
        return NULL;
    }
    return m;
}

int model_init_params(model *m, uint64_t seed)
{
    /* zeros where no tensor is: the padding between them stays zero */
    float *host = calloc(m->n_params + m->n_state + 1, sizeof(float));
    if (!host)
        return err_set("out of host memory initializing parameters");
    float *state = host + m->n_params;
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        if (l->ops->init)
            l->ops->init(l, seed, host + l->param_offset, state + l->state_offset);
    }
    int rc = m->be->upload(m->be, m->params, host, sizeof(float) * m->n_params);
    if (rc == 0)
        rc = m->be->upload(m->be, m->state, state, sizeof(float) * m->n_state);
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

int model_step(model *m, int pos)
{
    const float *x = m->x;
    for (int i = 0; i < m->n_layers; i++) {
        layer *l = &m->layers[i];
        if (!l->ops->step)
            return err_set("layer %s: a %s layer cannot generate one position at a time", l->name,
                           l->ops->name);
        if (l->ops->step(m, l, x, pos) < 0)
            return err_prefix("generating with layer %s", l->name);
        x = l->out_ptr;
    }
    return 0;
}

int model_loss(model *m, int rows, float scale, bool grad, double *loss_sum, double *correct)
{
    backend *be = m->be;
    layer *last = &m->layers[m->n_layers - 1];
    int targets = rows * m->positions; /* fits: the output's buffer holds as many rows */
    if (be->xent(be, last->out_ptr, m->y, targets, m->classes, scale / (float)m->positions,
                 grad ? last->grad : NULL, m->stats) < 0)
        return -1;
    if (be->download(be, m->host_stats, m->stats, sizeof(float) * 2 * (size_t)targets) < 0)
        return -1;
    double l = 0.0, c = 0.0;
    for (int r = 0; r < targets; r++) {
        l += m->host_stats[2 * r];
        c += m->host_stats[2 * r + 1];
    }
    *loss_sum += l / m->positions;
    *correct += c / m->positions;
    return 0;
}

/* Once layer `target`'s gradient has been written by its successor, the
 * residual layers that read its output add their share. */
static int add_residual_grads(model *m, int target, int rows)
{
    layer *t = &m->layers[target];
    for (int r = target + 1; r < m->n_layers; r++) {
        const layer *res = &m->layers[r];
        if (res->type != LAYER_RESIDUAL || r + res->cfg->from != target)
            continue;
        if (m->be->add(m->be, t->grad, t->grad, res->grad, (size_t)rows * t->out) < 0)
            return err_prefix("backward of layer %s", res->name);
    }
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
        if (i > 0 && add_residual_grads(m, i - 1, rows) < 0)
            return -1;
        if (ready && l->n_params > 0 && ready(ctx, l->param_offset) < 0)
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
    size_t bytes = sizeof(float) * (m->n_params > m->n_state ? m->n_params : m->n_state);
    float *host = malloc(bytes ? bytes : 1);
    if (!host)
        return err_set("out of host memory for the parameter checksum");
    const float *bufs[4] = {m->params, m->adam_m, m->adam_v, m->state};
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < 4; i++) {
        /* sharded moments are each rank's own: nothing to compare */
        size_t n = sizeof(float) * (i == 0  ? m->n_params
                                    : i < 3 ? (m->shard ? 0 : m->n_params)
                                            : m->n_state);
        if (m->be->download(m->be, host, bufs[i], n) < 0) {
            free(host);
            return -1;
        }
        h = fnv1a(h, host, n);
    }
    free(host);
    *sum = h;
    return 0;
}

/* Multiply-adds count two FLOPs; elementwise work one a value. */
double model_layer_flops(const layer *l)
{
    return l->ops->flops ? l->ops->flops(l) : (double)l->out;
}

double model_flops_per_sample(const model *m)
{
    double f = 0;
    for (int i = 0; i < m->n_layers; i++)
        f += model_layer_flops(&m->layers[i]);
    return f;
}

/* Going back, a layer with weights multiplies twice (the weights' gradient
 * and its input's), but the first layer, whose input needs no gradient
 * (model_backward), only once; everything else costs about its forward
 * again. */
double model_train_flops_per_sample(const model *m)
{
    double f = 0;
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        double fwd = model_layer_flops(l);
        f += 2 * fwd;
        if (l->ops->matmul)
            f += i > 0 ? fwd - l->out : 0.0; /* the input's gradient, bias work aside */
    }
    return f;
}

void model_shape_text(const model *m, char *buf, size_t size)
{
    bool mlp = true;
    for (int i = 0; i < m->n_layers; i++)
        mlp = mlp && (m->layers[i].type == LAYER_DENSE || m->layers[i].type == LAYER_DROPOUT);
    if (m->in_tokens) {
        snprintf(buf, size, "%d tokens -> %dx%d in %d layers", m->in_shape[0], m->positions,
                 m->classes, m->n_layers);
        return;
    }
    if (!mlp) {
        snprintf(buf, size, "%dx%dx%d -> %d in %d layers", m->in_shape[0], m->in_shape[1],
                 m->in_shape[2], m->classes, m->n_layers);
        return;
    }
    int used = snprintf(buf, size, "%d", m->in_features);
    for (int i = 0; i < m->n_layers && used > 0 && (size_t)used < size; i++)
        if (m->layers[i].type == LAYER_DENSE)
            used += snprintf(buf + used, size - (size_t)used, "-%d", m->layers[i].out);
}

void model_free(model *m)
{
    if (!m)
        return;
    backend *be = m->be;
    for (int i = 0; m->layers && i < m->n_layers; i++) {
        layer *l = &m->layers[i];
        if (l->ops && l->ops->release)
            l->ops->release(m, l);
        if (l->z != l->y)
            be->release(be, l->z);
        be->release(be, l->y);
        be->release(be, l->grad);
    }
    be->release(be, m->params);
    be->release(be, m->grads);
    be->release(be, m->adam_m);
    be->release(be, m->adam_v);
    if (m->shard)
        shard_plan_free(m->shard);
    free(m->shard);
    for (int s = 0; s < 3; s++) {
        be->release(be, m->x_slot[s]);
        be->release(be, m->y_slot[s]);
    }
    be->release(be, m->stats);
    be->release(be, m->state);
    free(m->host_stats);
    free(m->layers);
    free(m);
}

const char *model_bits_unit(const model *m)
{
    return m->classes <= 256 ? "byte" : "token";
}
