#include "trainer/evaluate.h"

#include <stdlib.h>

#include "util/err.h"

/* Runs the rows [first, first + rows) of ds through the model, adding to sums. */
static int eval_batch(model *m, dataset *ds, const transform *t, int64_t first, int rows,
                      int64_t *idx, float *hx, int32_t *hy, double *sums)
{
    backend *be = m->be;
    for (int i = 0; i < rows; i++)
        idx[i] = first + i;
    if (dataset_gather(ds, idx, rows, hx, hy) < 0)
        return -1;
    if (t)
        transform_apply(t, hx, rows, idx, 0, false);
    if (be->upload(be, m->x, hx, sizeof(float) * (size_t)rows * ds->features) < 0 ||
        be->upload(be, m->y, hy, sizeof(int32_t) * (size_t)rows * ds->targets) < 0)
        return -1;
    if (model_forward(m, rows, false) < 0)
        return -1;
    return model_loss(m, rows, 1.0f, false, &sums[0], &sums[1]);
}

int evaluate_batches(model *m, dataset *ds, const transform *t, int rank, int ranks, int batch,
                     eval_batch_fn each, void *ctx, double sums[2])
{
    m->x = m->x_slot[MODEL_SLOT_OTHER]; /* training may have moved them */
    m->y = m->y_slot[MODEL_SLOT_OTHER];
    if (batch > ds->n) /* as the model was sized (memplan_eval_rows) */
        batch = (int)ds->n;
    int64_t *idx = malloc(sizeof *idx * (size_t)batch);
    float *hx = malloc(sizeof *hx * (size_t)batch * ds->features);
    int32_t *hy = malloc(sizeof *hy * (size_t)batch * ds->targets);
    int rc = (idx && hx && hy) ? 0 : err_set("out of host memory for evaluation");
    int64_t nbatches = (ds->n + batch - 1) / batch;
    for (int64_t b = rank; rc == 0 && b < nbatches; b += ranks) {
        int64_t first = b * batch;
        int rows = (int)(ds->n - first < batch ? ds->n - first : batch);
        rc = eval_batch(m, ds, t, first, rows, idx, hx, hy, sums);
        if (rc == 0 && each)
            rc = each(ctx, m, first, rows, hx, hy);
    }
    free(idx);
    free(hx);
    free(hy);
    return rc < 0 ? err_prefix("evaluation") : 0;
}

int evaluate(model *m, dataset *ds, const transform *t, const comm_info *ci, int batch,
             double *loss, double *accuracy)
{
    double sums[2] = {0.0, 0.0};
    if (evaluate_batches(m, ds, t, ci->rank, ci->size, batch, NULL, NULL, sums) < 0 ||
        comm_allreduce_sum_f64(sums, 2) < 0)
        return -1;
    *loss = sums[0] / (double)ds->n;
    *accuracy = sums[1] / (double)ds->n;
    return 0;
}
