#include "trainer/report.h"

#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"
#include "data/transform.h"
#include "trainer/checkpoint.h"
#include "trainer/model.h"
#include "trainer/outputs.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/h5util.h"

typedef struct {
    backend *be;
    dataset *ds;
    transform tf;
    bool has_tf;
    model *m;
    float *hx, *logits; /* host: one batch */
    int32_t *hy;
    int64_t *idx;
    int32_t *predicted, *labels; /* the whole split, for --predict */
    float *all_logits;
    long *confusion; /* classes x classes: [true][predicted] */
    double loss;
} report;

static int setup(report *r, const config *cfg, const char *ckpt, bool keep_all)
{
    if (!cfg->data_test[0])
        return err_set("--eval needs a test split: data.test is empty");
    backend_options bo = {.device = (device_kind)cfg->device,
                          .threads = cfg->threads,
                          .precision = (precision_kind)cfg->precision,
                          .local_size = 1};
    const char *note;
    dataset_options data_opts = config_dataset_options(cfg);
    if (!(r->be = backend_open(&bo, &note)) ||
        dataset_open(&r->ds, &data_opts, cfg->data_test, "data.test") < 0)
        return -1;
    dataset *ds = r->ds;
    transform_options tf_opts = config_transform_options(cfg);
    if (transform_init(&r->tf, &tf_opts, ds->channels, ds->height, ds->width) < 0)
        return -1;
    r->has_tf = true;
    int batch = cfg->eval_batch_size < ds->n ? cfg->eval_batch_size : (int)ds->n;
    const int shape[3] = {ds->channels, ds->height, ds->width};
    if (!(r->m = model_build(cfg, r->be, shape, batch)) || ckpt_load_params(ckpt, r->m) < 0)
        return -1;
    int k = r->m->classes;
    r->hx = malloc(sizeof(float) * (size_t)batch * ds->features);
    r->hy = malloc(sizeof(int32_t) * (size_t)batch);
    r->idx = malloc(sizeof(int64_t) * (size_t)batch);
    r->logits = malloc(sizeof(float) * (size_t)batch * k);
    r->confusion = calloc((size_t)k * k, sizeof(long));
    if (keep_all) {
        r->all_logits = malloc(sizeof(float) * (size_t)ds->n * k);
        r->predicted = malloc(sizeof(int32_t) * (size_t)ds->n);
        r->labels = malloc(sizeof(int32_t) * (size_t)ds->n);
    }
    if (!r->hx || !r->hy || !r->idx || !r->logits || !r->confusion ||
        (keep_all && (!r->all_logits || !r->predicted || !r->labels)))
        return err_set("out of host memory for the evaluation");
    return 0;
}

/* Loss (in double, from the logits) and arg-max of each row of a batch. */
static void score(report *r, int64_t first, int rows)
{
    int k = r->m->classes;
    for (int i = 0; i < rows; i++) {
        const float *z = r->logits + (size_t)i * k;
        int best = 0;
        for (int j = 1; j < k; j++)
            best = z[j] > z[best] ? j : best;
        double sum = 0;
        for (int j = 0; j < k; j++)
            sum += exp((double)z[j] - z[best]);
        r->loss += log(sum) + z[best] - z[r->hy[i]];
        r->confusion[(size_t)r->hy[i] * k + best]++;
        if (r->predicted) {
            memcpy(r->all_logits + (size_t)(first + i) * k, z, sizeof(float) * k);
            r->predicted[first + i] = best;
            r->labels[first + i] = r->hy[i];
        }
    }
}

static int run_batches(report *r)
{
    model *m = r->m;
    backend *be = r->be;
    dataset *ds = r->ds;
    const layer *last = &m->layers[m->n_layers - 1];
    for (int64_t first = 0; first < ds->n; first += m->max_rows) {
        int rows = (int)(ds->n - first < m->max_rows ? ds->n - first : m->max_rows);
        for (int i = 0; i < rows; i++)
            r->idx[i] = first + i;
        if (dataset_gather(ds, r->idx, rows, r->hx, r->hy) < 0)
            return -1;
        for (int i = 0; i < rows; i++)
            if (r->hy[i] >= m->classes)
                return err_set("data.test: label %d of sample %lld is beyond the model's %d "
                               "outputs",
                               r->hy[i], (long long)(first + i), m->classes);
        transform_apply(&r->tf, r->hx, rows, r->idx, 0, false);
        if (be->upload(be, m->x, r->hx, sizeof(float) * (size_t)rows * ds->features) < 0 ||
            model_forward(m, rows, false) < 0 ||
            be->download(be, r->logits, last->out_ptr, sizeof(float) * (size_t)rows * m->classes) <
                0)
            return -1;
        score(r, first, rows);
    }
    return 0;
}

static void print(const report *r, const char *ckpt, FILE *out)
{
    int k = r->m->classes;
    long n = 0, correct = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            n += r->confusion[(size_t)i * k + j];
            correct += i == j ? r->confusion[(size_t)i * k + j] : 0;
        }
    fprintf(out, "%s on %ld test samples: loss %.4f accuracy %.4f\n", ckpt, n, r->loss / n,
            (double)correct / n);
    fprintf(out, "\nclass  samples  accuracy\n");
    for (int i = 0; i < k; i++) {
        long row = 0;
        for (int j = 0; j < k; j++)
            row += r->confusion[(size_t)i * k + j];
        if (row)
            fprintf(out, "%5d  %7ld  %8.4f\n", i, row,
                    (double)r->confusion[(size_t)i * k + i] / row);
    }
    fprintf(out, "\nconfusion matrix (rows: true class, columns: predicted)\n      ");
    for (int j = 0; j < k; j++)
        fprintf(out, " %6d", j);
    for (int i = 0; i < k; i++) {
        fprintf(out, "\n%5d ", i);
        for (int j = 0; j < k; j++)
            fprintf(out, " %6ld", r->confusion[(size_t)i * k + j]);
    }
    fputc('\n', out);
}

static int write_dataset(hid_t f, const char *name, hid_t type, hid_t mem, int rank,
                         const hsize_t *dims, const void *data, const char *path)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d =
        space < 0 ? -1 : H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = d < 0 || H5Dwrite(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0
                 ? h5util_fail_in(path, d < 0 ? "H5Dcreate2" : "H5Dwrite", name)
                 : 0;
    if (d >= 0 && H5Dclose(d) < 0 && rc == 0) /* it may write */
        rc = h5util_fail_in(path, "H5Dclose", name);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

int report_tmp_name(const char *path, char *tmp, size_t size)
{
    int n = snprintf(tmp, size, "%s.tmp", path);
    if (n < 0 || (size_t)n >= size)
        return err_set("--predict: a path of %zu characters, over the %zu this one may have",
                       strlen(path), size - 5);
    return 0;
}

hid_t report_create(const char *tmp, const char *path)
{
    /* A stale tmp (an earlier --predict's, killed) goes: unlink removes a
     * link itself, never its target. The file is then made exclusively,
     * so nothing that appeared at the name since is written through. */
    if (unlink(tmp) < 0 && errno != ENOENT) {
        err_errno("--predict %s: cannot remove the stale %s", path, tmp);
        return H5I_INVALID_HID;
    }
    h5util_quiet();
    hid_t f = H5Fcreate(tmp, H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0)
        h5util_fail_in(path, "H5Fcreate", tmp);
    return f;
}

int report_commit(const char *tmp, const char *path, int rc)
{
    if (rc == 0 && rename(tmp, path) < 0)
        rc = err_errno("cannot rename %s to %s", tmp, path);
    if (rc < 0)
        remove(tmp);
    return rc;
}

/* Written under a temporary name and renamed, like a checkpoint. */
static int write_predictions(const report *r, const char *path)
{
    char tmp[4096];
    if (report_tmp_name(path, tmp, sizeof tmp) < 0)
        return -1;
    hid_t f = report_create(tmp, path);
    if (f < 0)
        return -1;
    hsize_t two[2] = {(hsize_t)r->ds->n, (hsize_t)r->m->classes}, one[1] = {(hsize_t)r->ds->n};
    int rc =
        write_dataset(f, "/logits", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, two, r->all_logits, path);
    if (rc == 0)
        rc = write_dataset(f, "/predicted", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, one, r->predicted,
                           path);
    if (rc == 0)
        rc = write_dataset(f, "/labels", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, one, r->labels, path);
    if (H5Fclose(f) < 0 && rc == 0)
        rc = h5util_fail_in(path, "H5Fclose", "/");
    return report_commit(tmp, path, rc);
}

static void release(report *r)
{
    free(r->hx), free(r->hy), free(r->idx), free(r->logits), free(r->confusion);
    free(r->all_logits), free(r->predicted), free(r->labels);
    if (r->has_tf)
        transform_free(&r->tf);
    model_free(r->m);
    dataset_close(r->ds);
    backend_close(r->be);
}

int report_checkpoint(const config *cfg, const char *ckpt, const char *predict, FILE *out)
{
    /* before any work: --predict replaces no input and nothing special */
    if (predict && outputs_check_predict(cfg, ckpt, predict) < 0)
        return -1;
    if (cfg->data_format == DATA_TEXT || cfg->data_format == DATA_TOKENS)
        return report_text_checkpoint(cfg, ckpt, predict, out);
    report r;
    memset(&r, 0, sizeof r);
    int rc = setup(&r, cfg, ckpt, predict != NULL);
    if (rc == 0)
        rc = run_batches(&r);
    if (rc == 0)
        print(&r, ckpt, out);
    if (rc == 0 && predict) {
        rc = write_predictions(&r, predict);
        if (rc == 0)
            fprintf(out, "predictions in %s\n", predict);
    }
    release(&r);
    return rc;
}
