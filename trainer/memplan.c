#include "trainer/memplan.h"

#include "kernels/backend.h"
#include "trainer/layer.h"
#include "trainer/loader.h"
#include "trainer/model.h"
#include "util/err.h"

model_input memplan_input(const dataset *ds, int batch_rows)
{
    return (model_input){.tokens = ds->tokens,
                         .shape = {ds->channels, ds->height, ds->width},
                         .batch_rows = batch_rows};
}

model *memplan_build(const config *cfg, backend *be, const dataset *train, int train_rows,
                     int eval_rows, int world, int rank)
{
    int micro = train_rows / cfg->grad_accum;
    if (micro < 1)
        micro = 1; /* the config check refuses this; the plan still has a figure */
    int max_rows = micro > eval_rows ? micro : eval_rows;
    model_input in = memplan_input(train, train_rows);
    if (cfg->shard && world > 1) {
        in.shard_ranks = world;
        in.shard_rank = rank;
        in.bucket_mb = cfg->bucket_mb;
    }
    return model_build_input(cfg, be, &in, micro, max_rows);
}

int memplan_eval_rows(const config *cfg, const dataset *test)
{
    if (!test)
        return 0;
    return test->n < cfg->eval_batch_size ? (int)test->n : cfg->eval_batch_size;
}

/* The host memory of training around the model on every rank: what
 * train.c, loader.c and evaluate.c allocate. The sampler takes none: it
 * computes each position's sample instead of holding the order. */
static uint64_t host_bytes(const memplan *p, const dataset *train)
{
    const uint64_t f = (uint64_t)train->features, b = (uint64_t)p->train_rows;
    const uint64_t e = (uint64_t)p->eval_rows;
    const uint64_t y = 4 * (uint64_t)train->targets;
    uint64_t loader = LOADER_DEPTH * b * (4 * f + y) + 8 * b;
    uint64_t evaluation = e * (8 + 4 * f + y);
    /* the model's own: the loss statistics of each target */
    uint64_t model =
        2 * y * (uint64_t)(p->train_rows > p->eval_rows ? p->train_rows : p->eval_rows);
    return loader + evaluation + model;
}

/* The largest workspace `device` takes for one of m's convolutions, each
 * planned as the model will plan it (layer_conv2d.c: its training and
 * largest batches), none allocated. */
static int conv_workspace(const model *m, backend *device, uint64_t *bytes)
{
    *bytes = 0;
    for (int i = 0; device && device->conv_workspace && i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        if (l->type != LAYER_CONV2D)
            continue;
        conv_geom g = layer_conv_geom(l);
        uint64_t need;
        if (device->conv_workspace(device, &g, m->train_rows, m->max_rows, &need) < 0)
            return err_prefix("layer %s", l->name);
        *bytes = need > *bytes ? need : *bytes;
    }
    return 0;
}

int memplan_make(memplan *p, const config *cfg, const dataset *train, int train_rows, int eval_rows,
                 int world, backend *device)
{
    backend *be = backend_cpu_counting_open();
    if (!be)
        return -1;
    model *m = memplan_build(cfg, be, train, train_rows, eval_rows, world, 0);
    if (!m) {
        backend_close(be);
        return -1;
    }
    *p = (memplan){.train_rows = train_rows,
                   .eval_rows = eval_rows,
                   .n_params = m->n_params,
                   .n_state = m->n_state,
                   .n_moments = m->n_moments,
                   .model = be->bytes_allocated};
    if (cfg->grad_accum > 1) /* the gradients' sum over micro-batches (train.c) */
        p->model += sizeof(float) * (uint64_t)m->n_params;
    p->host = host_bytes(p, train);
    /* only rank 0 writes checkpoints: its copy of the whole state, the
     * file HDF5 builds in memory, and the sealed image */
    p->staging = 3 * sizeof(float) * (3 * (uint64_t)p->n_params + p->n_state);
    /* sharded: a checkpoint gathers the moments into rank 0's staging,
     * every rank sending from a copy of its shard */
    if (m->shard)
        p->host += sizeof(float) * (uint64_t)m->n_moments;
    int rc = conv_workspace(m, device, &p->conv_workspace);
    model_free(m);
    backend_close(be);
    return rc;
}
