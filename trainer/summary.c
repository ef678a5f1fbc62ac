#include "trainer/summary.h"

#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "data/dataset.h"
#include "trainer/gpumem.h"
#include "trainer/memplan.h"
#include "trainer/model.h"
#include "util/err.h"

static void shape_text(const int *s, int rank, char *buf, size_t size)
{
    if (rank == 1)
        snprintf(buf, size, "(%d)", s[0]);
    else if (rank == 2)
        snprintf(buf, size, "(%d, %d)", s[0], s[1]);
    else
        snprintf(buf, size, "(%d, %d, %d)", s[0], s[1], s[2]);
}

static void print_table(const model *m, FILE *out)
{
    char type[32], shape[48], in[48];
    double flops = 0;
    shape_text(m->in_shape, m->in_rank, in, sizeof in);
    fprintf(out, "%-16s %-15s %-16s %12s %14s\n", "layer", "type", "output", "parameters",
            "FLOPs/sample");
    fprintf(out, "%-16s %-15s %-16s %12s %14s\n", "(input)", "", in, "", "");
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        layer_type_name(l->type, type, sizeof type);
        shape_text(l->out_shape, l->out_rank, shape, sizeof shape);
        double f = model_layer_flops(l);
        flops += f;
        fprintf(out, "%-16s %-15s %-16s %12zu %14.0f\n", l->name, type, shape, l->n_trained, f);
    }
    fprintf(out,
            "total: %zu parameters (%zu kept statistics); %.3g FLOPs a sample forward, "
            "%.3g forward and backward\n",
            m->n_trained, m->n_state, flops, model_train_flops_per_sample(m));
}

/* Where a rank's memory goes (memplan): the model's buffers by part, the
 * host's besides (and rank 0's checkpoint writing), and the data sets held
 * in memory. */
static void print_memory(const memplan *p, int grad_accum, int world, uint64_t data, bool read,
                         FILE *out)
{
    const double mib = 1 << 20;
    double params = sizeof(float) * (double)p->n_params;
    double adam = 2 * sizeof(float) * (double)p->n_moments;
    double activations = (double)p->model - 2 * params - adam;
    char sharded[64] = "";
    if (p->n_moments != p->n_params)
        snprintf(sharded, sizeof sharded, " (its 1/%d shard)", world);
    char micro[64] = "";
    if (grad_accum > 1)
        snprintf(micro, sizeof micro, " in %d micro-batches", grad_accum);
    fprintf(out,
            "memory of one rank at %d rows a step%s (%d for evaluation): parameters %.1f MiB, "
            "gradients %.1f MiB, Adam state %.1f MiB%s, activations, inputs and workspaces %.1f "
            "MiB; host buffers %.1f MiB, and %.1f MiB more on rank 0 while it writes a checkpoint; "
            "data in memory %.1f MiB%s; %.1f MiB in all (rank 0: %.1f MiB)\n",
            p->train_rows, micro, p->eval_rows, params / mib, params / mib, adam / mib, sharded,
            activations / mib, (double)p->host / mib, (double)p->staging / mib, (double)data / mib,
            read ? "" : " (not read, below)", (double)(p->model + p->host + data) / mib,
            (double)(p->model + p->host + p->staging + data) / mib);
}

/* The data as --dry-run found it: opened as training opens the splits,
 * or, where they cannot be read (not fetched yet, say), what the config
 * alone says of them (dataset_describe), with why. */
typedef struct {
    bool read;           /* the splits were opened */
    int64_t train, test; /* their samples, where read (test -1: none) */
    uint64_t bytes;      /* what they hold in memory, where read */
    bool assumed;        /* not read: the shape is the format's usual one */
    int eval_rows;       /* not read: the evaluation batch counted */
    char why[400];       /* not read: the error opening them */
} data_state;

/* Plans a rank's memory for training batches from `train` (on `device` too
 * where there is one: its convolutions' workspace); *in: what the model
 * reads. */
static int plan_with(const config *cfg, const comm_info *ci, backend *device, const dataset *train,
                     int eval_rows, memplan *p, model_input *in)
{
    int rows = cfg->batch_size / ci->size;
    rows = rows < 1 ? 1 : rows;
    *in = memplan_input(train, rows);
    return memplan_make(p, cfg, train, rows, eval_rows, ci->size, device);
}

/* Opens the splits as training would (the test split only when there is
 * one) and plans with them; where they cannot be read, plans with the
 * config's description of them. A fault of the config itself fails. */
static int plan(const config *cfg, const comm_info *ci, backend *device, memplan *p,
                model_input *in, data_state *d)
{
    dataset_options o = config_dataset_options(cfg);
    dataset absent, *train = NULL, *test = NULL;
    bool has_test;
    *d = (data_state){.test = -1};
    if (dataset_open_splits(&train, &test, &o) < 0) {
        snprintf(d->why, sizeof d->why, "%s", err_msg());
        if (dataset_describe(&absent, &has_test, &d->assumed, &o) < 0) {
            /* a fault of the config is told once; what the data would
             * have said, beside what describing it without lacks */
            if (strcmp(err_msg(), d->why) != 0) {
                char lack[400];
                snprintf(lack, sizeof lack, "%s", err_msg());
                err_set("%s; the data is not read (%s)", lack, d->why);
            }
            return -1;
        }
        d->eval_rows = has_test ? cfg->eval_batch_size : 0;
        return plan_with(cfg, ci, device, &absent, d->eval_rows, p, in);
    }
    *d = (data_state){.read = true,
                      .train = train->n,
                      .test = test ? test->n : -1,
                      .bytes = train->bytes + (test ? test->bytes : 0)};
    int rc = plan_with(cfg, ci, device, train, memplan_eval_rows(cfg, test), p, in);
    dataset_close(train);
    dataset_close(test);
    return rc;
}

/* The note of the data's state: counted, or why not and what stands in. */
static void print_data(const config *cfg, const model_input *in, const data_state *d, FILE *out)
{
    const char *unit = in->tokens ? "windows" : "samples";
    if (d->read) {
        fprintf(out, "data: %lld training %s", (long long)d->train, unit);
        if (d->test >= 0)
            fprintf(out, ", %lld for evaluation", (long long)d->test);
        fprintf(out, ", read\n");
        return;
    }
    static const char *const formats[] = {"idx", "cifar10", "hdf5", "text", "tokens"};
    char shape[128], eval[64] = "no evaluation split";
    if (in->tokens)
        snprintf(shape, sizeof shape, "windows of %d tokens (the embedding's block_size)",
                 in->shape[0]);
    else
        snprintf(shape, sizeof shape, "%d,%d,%d (%s)", in->shape[0], in->shape[1], in->shape[2],
                 d->assumed ? "the format's usual: data.shape sets another" : "data.shape");
    if (d->eval_rows)
        snprintf(eval, sizeof eval, "evaluation at %d rows a batch", d->eval_rows);
    fprintf(out,
            "data: not read (%s); described from the config: data.format = %s, input %s, %s, "
            "the data's memory not counted\n",
            d->why, formats[cfg->data_format], shape, eval);
}

/* The GPU this rank would train on, opened as training opens it: 1 and
 * *gpu where the run would take one; 0 where it would take the CPU
 * (run.device = cpu, or auto without a usable GPU), with *why saying why
 * where run.device = cuda finds none (--dry-run describes the model all
 * the same); -1 where opening it failed. */
static int open_gpu(const config *cfg, const comm_info *ci, backend **gpu, const char **why)
{
    const char *reason;
    *gpu = NULL;
    *why = NULL;
    if (cfg->device == DEVICE_CPU)
        return 0;
    if (backend_cuda_usable(ci->local_rank, &reason) != 1) {
        if (cfg->device == DEVICE_CUDA)
            *why = reason;
        return 0;
    }
    backend_options o = {.device = DEVICE_CUDA,
                         .threads = 1,
                         .precision = (precision_kind)cfg->precision,
                         .deterministic = cfg->deterministic,
                         .local_rank = ci->local_rank,
                         .local_size = ci->local_size,
                         .allow_shared_gpu = cfg->allow_shared_gpu};
    *gpu = backend_cuda_open(&o);
    return *gpu ? 1 : -1;
}

/* The GPU's terms of a rank's memory (trainer/gpumem.h), as the start-up
 * check counts them, NCCL's for this launch's ranks (--dry-run does not
 * ask the others whether they share the GPU: as if each had its own). */
static int print_gpu(const config *cfg, const comm_info *ci, backend *gpu, const memplan *p,
                     FILE *out)
{
    uint64_t free_bytes;
    if (gpu->mem_free(gpu, &free_bytes) < 0)
        return -1;
    int local = ci->local_size > 0 ? ci->local_size : 1;
    gpumem_rank g;
    gpumem_of(&g, gpu, p, gsync_uses_nccl(true, ci->size, cfg->comm_backend), ci->size, local,
              (ci->size + local - 1) / local);
    gpumem_print(&g, free_bytes, gpu->description, out);
    return 0;
}

/* The layer table and the memory lines. */
static int describe(const config *cfg, const comm_info *ci, backend *gpu, const char *why,
                    FILE *out)
{
    memplan p;
    model_input in;
    data_state d;
    if (plan(cfg, ci, gpu, &p, &in, &d) < 0)
        return -1;
    /* the layers for the table, on a backend that allocates nothing: a
     * model too large for this machine is still described */
    backend *be = backend_cpu_counting_open();
    if (!be)
        return -1;
    int micro = p.train_rows / cfg->grad_accum; /* the rows a pass holds */
    model *m = model_build_input(cfg, be, &in, micro < 1 ? 1 : micro, micro < 1 ? 1 : micro);
    int rc = m ? 0 : -1;
    if (m) {
        print_table(m, out);
        print_memory(&p, cfg->grad_accum, ci->size, d.bytes, d.read, out);
        print_data(cfg, &in, &d, out);
        if (gpu)
            rc = print_gpu(cfg, ci, gpu, &p, out);
        else if (why)
            fprintf(out,
                    "GPU memory: not shown: run.device = cuda, but there is no usable GPU "
                    "here (%s)\n",
                    why);
    }
    model_free(m);
    backend_close(be);
    return rc;
}

int summary_print(const config *cfg, const comm_info *ci, FILE *out)
{
    backend *gpu;
    const char *why;
    if (open_gpu(cfg, ci, &gpu, &why) < 0)
        return -1;
    int rc = describe(cfg, ci, gpu, why, out);
    backend_close(gpu);
    if (rc < 0)
        return -1;
    fprintf(out, "\n; the configuration in force (%s and every --set applied)\n", cfg->source);
    config_write(cfg, out);
    return 0;
}
