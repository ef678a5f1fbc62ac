#include "trainer/summary.h"

#include <stdlib.h>

#include "data/dataset.h"
#include "trainer/err.h"
#include "trainer/model.h"

static void shape_text(const int *s, char *buf, size_t size)
{
    if (s[1] * s[2] == 1)
        snprintf(buf, size, "(%d)", s[0]);
    else
        snprintf(buf, size, "(%d, %d, %d)", s[0], s[1], s[2]);
}

static void print_table(const model *m, FILE *out)
{
    char type[32], shape[48], in[48];
    double flops = 0;
    shape_text(m->in_shape, in, sizeof in);
    fprintf(out, "%-16s %-15s %-16s %12s %14s\n", "layer", "type", "output", "parameters",
            "FLOPs/sample");
    fprintf(out, "%-16s %-15s %-16s %12s %14s\n", "(input)", "", in, "", "");
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        layer_type_name(l->type, type, sizeof type);
        shape_text(l->out_shape, shape, sizeof shape);
        double f = model_layer_flops(l);
        flops += f;
        fprintf(out, "%-16s %-15s %-16s %12zu %14.0f\n", l->name, type, shape, l->n_params, f);
    }
    fprintf(out,
            "total: %zu parameters (%zu kept statistics); %.3g FLOPs a sample forward, "
            "%.3g forward and backward\n",
            m->n_params, m->n_state, flops, model_train_flops_per_sample(m));
}

/* What the CPU build of the model took, split into its parts. */
static void print_memory(const model *m, const backend *be, int rows, FILE *out)
{
    const double mib = 1 << 20;
    double p = sizeof(float) * (double)m->n_params;
    double activations = (double)be->bytes_allocated - 4 * p;
    fprintf(out,
            "memory of one rank at %d rows a step: parameters %.1f MiB, gradients %.1f MiB, "
            "Adam state %.1f MiB, activations and inputs %.1f MiB; %.1f MiB in all\n",
            rows, p / mib, p / mib, 2 * p / mib, activations / mib,
            (double)be->bytes_allocated / mib);
}

int summary_print(const config *cfg, const comm_info *ci, FILE *out)
{
    dataset *ds = NULL;
    if (dataset_open(&ds, cfg, cfg->data_train, "data.train") < 0)
        return -1;
    const int shape[3] = {ds->channels, ds->height, ds->width};
    dataset_close(ds);
    int rows = cfg->batch_size / ci->size;
    if (rows < 1)
        rows = 1;
    backend *be = backend_cpu_open(1);
    if (!be)
        return -1;
    model *m = model_build(cfg, be, shape, rows);
    if (!m) {
        backend_close(be);
        return -1;
    }
    print_table(m, out);
    print_memory(m, be, rows, out);
    fprintf(out, "\n; the configuration in force (%s and every --set applied)\n", cfg->source);
    config_write(cfg, out);
    model_free(m);
    backend_close(be);
    return 0;
}
