/* report_text: --eval of a language model (data.format = text). The
 * validation split (its first data.eval_tokens, in whole windows) goes
 * through evaluate_batches, the batches and sums training's evaluation
 * takes, so the loss is the one the run logged at that checkpoint; the
 * report adds the loss and accuracy by position in the window, and
 * --predict OUT.h5 writes each window's logits, inputs and targets, a
 * batch at a time (a batch's logits is all it holds in memory). */
#include "trainer/report.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/tokenizer.h"
#include "trainer/checkpoint.h"
#include "trainer/evaluate.h"
#include "trainer/memplan.h"
#include "trainer/model.h"
#include "util/err.h"
#include "util/h5util.h"

enum { SET_LOGITS, SET_INPUTS, SET_TARGETS, N_SETS };

static const char *const set_names[N_SETS] = {"/logits", "/inputs", "/targets"};

typedef struct {
    backend *be;
    dataset *val;
    model *m;
    int t, vocab, batch;
    double sums[2];                 /* loss and correct, summed over windows */
    double *pos_loss, *pos_correct; /* summed over windows, by position */
    char *tok_json;                 /* data.tokenizer's bytes, or NULL */

    /* --predict */
    const char *path;
    char tmp[4096];
    hid_t file, sets[N_SETS];
    float *logits; /* one batch's, on the host */
} lm_report;

/* The config's data.tokenizer, read once: the data is encoded with the
 * bytes that are compared with the checkpoint's (json NULL: none). */
static int read_tokenizer(const config *cfg, dataset_options *o, char **json)
{
    *json = NULL;
    o->tokenizer_len = 0;
    if (cfg->data_tokenizer[0] && !(*json = tok_read_file(cfg->data_tokenizer, &o->tokenizer_len)))
        return err_prefix("data.tokenizer");
    o->tokenizer_json = *json;
    return 0;
}

static int setup(lm_report *r, const config *cfg, const char *ckpt)
{
    dataset *train = NULL;
    dataset_options data_opts = config_dataset_options(cfg);
    if (read_tokenizer(cfg, &data_opts, &r->tok_json) < 0 ||
        dataset_open_splits(&train, &r->val, &data_opts) < 0)
        return -1;
    dataset_close(train); /* only the validation split is read */
    if (!r->val)
        return err_set("--eval of a language model reads its validation split, and "
                       "data.val_fraction is 0");
    dataset *ds = r->val;
    backend_options bo = {.device = (device_kind)cfg->device,
                          .threads = cfg->threads,
                          .precision = (precision_kind)cfg->precision,
                          .local_size = 1};
    const char *note;
    if (!(r->be = backend_open(&bo, &note)))
        return -1;
    r->t = ds->targets;
    r->batch = cfg->eval_batch_size < ds->n ? cfg->eval_batch_size : (int)ds->n;
    model_input in = memplan_input(ds, r->batch);
    if (!(r->m = model_build_input(cfg, r->be, &in, 1, r->batch)) ||
        ckpt_load_params(ckpt, r->m) < 0)
        return -1;
    /* the config's tokenizer must be the checkpoint's (none where it holds
     * none), as at resume: the text becomes the ids the model knows */
    if (ckpt_check_tokenizer(ckpt, r->tok_json, data_opts.tokenizer_len, cfg->data_tokenizer) < 0)
        return -1;
    if (r->m->positions != r->t || r->m->classes < ds->classes)
        return err_set("--eval of a language model needs the last layer to give %d logits or "
                       "more at each of the window's %d positions",
                       ds->classes, r->t);
    r->vocab = r->m->classes;
    r->pos_loss = calloc((size_t)r->t, sizeof *r->pos_loss);
    r->pos_correct = calloc((size_t)r->t, sizeof *r->pos_correct);
    return r->pos_loss && r->pos_correct ? 0 : err_set("out of host memory for the evaluation");
}

/* The predictions file, under a temporary name until it is whole: its
 * datasets sized for every window, filled a batch at a time. */
static int open_predictions(lm_report *r, const char *path)
{
    r->path = path;
    if (report_tmp_name(path, r->tmp, sizeof r->tmp) < 0)
        return -1;
    r->logits = malloc(sizeof(float) * (size_t)r->batch * r->t * r->vocab);
    if (!r->logits)
        return err_set("out of host memory for the logits of %d windows", r->batch);
    if ((r->file = report_create(r->tmp, path)) < 0)
        return -1;
    const hsize_t dims[3] = {(hsize_t)r->val->n, (hsize_t)r->t, (hsize_t)r->vocab};
    for (int s = 0; s < N_SETS; s++) {
        hid_t space = H5Screate_simple(s == SET_LOGITS ? 3 : 2, dims, NULL);
        hid_t type = s == SET_LOGITS ? H5T_IEEE_F32LE : H5T_STD_I32LE;
        r->sets[s] = space < 0 ? H5I_INVALID_HID
                               : H5Dcreate2(r->file, set_names[s], type, space, H5P_DEFAULT,
                                            H5P_DEFAULT, H5P_DEFAULT);
        if (space >= 0)
            H5Sclose(space);
        if (r->sets[s] < 0)
            return h5util_fail_in(path, "H5Dcreate2", set_names[s]);
    }
    return 0;
}

/* Rows [first, first + rows) of one of the datasets. */
static int write_rows(lm_report *r, int s, int64_t first, int rows, hid_t mem, const void *data)
{
    hsize_t start[3] = {(hsize_t)first, 0, 0};
    hsize_t count[3] = {(hsize_t)rows, (hsize_t)r->t, (hsize_t)r->vocab};
    int rank = s == SET_LOGITS ? 3 : 2;
    hid_t file_space = H5Dget_space(r->sets[s]);
    hid_t mem_space = H5Screate_simple(rank, count, NULL);
    bool ok = file_space >= 0 && mem_space >= 0 &&
              H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
              H5Dwrite(r->sets[s], mem, mem_space, file_space, H5P_DEFAULT, data) >= 0;
    /* told before the spaces close: the next HDF5 call clears its error stack */
    int rc = ok ? 0 : h5util_fail_in(r->path, "H5Dwrite", set_names[s]);
    if (mem_space >= 0)
        H5Sclose(mem_space);
    if (file_space >= 0)
        H5Sclose(file_space);
    return rc;
}

/* evaluate_batches' hook: the batch's losses by position, and its logits,
 * inputs (token ids, in x's place) and targets to the predictions file. */
static int each_batch(void *ctx, model *m, int64_t first, int rows, const float *x,
                      const int32_t *y)
{
    lm_report *r = ctx;
    for (int i = 0; i < rows; i++)
        for (int p = 0; p < r->t; p++) {
            const float *st = m->host_stats + 2 * ((size_t)i * r->t + p);
            r->pos_loss[p] += st[0];
            r->pos_correct[p] += st[1];
        }
    if (!r->path)
        return 0;
    const layer *last = &m->layers[m->n_layers - 1];
    size_t n = (size_t)rows * r->t * r->vocab;
    if (m->be->download(m->be, r->logits, last->out_ptr, sizeof(float) * n) < 0 ||
        write_rows(r, SET_LOGITS, first, rows, H5T_NATIVE_FLOAT, r->logits) < 0 ||
        write_rows(r, SET_INPUTS, first, rows, H5T_NATIVE_INT32, x) < 0 ||
        write_rows(r, SET_TARGETS, first, rows, H5T_NATIVE_INT32, y) < 0)
        return -1;
    return 0;
}

/* Closes the predictions file; whole (ok), renamed to its name, else removed. */
static int close_predictions(lm_report *r, bool ok)
{
    if (r->file < 0)
        return ok ? 0 : -1;
    int rc = ok ? 0 : -1;
    for (int s = 0; s < N_SETS; s++)
        if (r->sets[s] >= 0 && H5Dclose(r->sets[s]) < 0 && rc == 0)
            rc = h5util_fail_in(r->path, "H5Dclose", set_names[s]);
    if (H5Fclose(r->file) < 0 && rc == 0)
        rc = h5util_fail_in(r->path, "H5Fclose", "/");
    r->file = H5I_INVALID_HID;
    return report_commit(r->tmp, r->path, rc);
}

/* The whole split's figures, then by position: 0, 1, 2-3, 4-7, ... */
static void print(const lm_report *r, const char *ckpt, FILE *out)
{
    long long n = (long long)r->val->n;
    double loss = r->sums[0] / (double)n;
    double bpt = r->val->bytes_per_token; /* a tokenizer's: bits per byte too */
    char per_byte[64] = "";
    if (bpt > 0)
        snprintf(per_byte, sizeof per_byte, ", %.4f bits/byte", loss / M_LN2 / bpt);
    fprintf(out,
            "%s on %lld validation windows of %d tokens: loss %.8g (%.4f bits/%s%s) accuracy "
            "%.4f\n",
            ckpt, n, r->t, loss, loss / M_LN2, model_bits_unit(r->m), per_byte,
            r->sums[1] / (double)n);
    char bits[16];
    snprintf(bits, sizeof bits, "bits/%s", model_bits_unit(r->m));
    fprintf(out, "\npositions  targets    loss  %9s  accuracy\n", bits);
    for (int lo = 0; lo < r->t; lo = lo ? 2 * lo : 1) {
        int hi = lo ? (2 * lo < r->t ? 2 * lo : r->t) : 1;
        double l = 0.0, c = 0.0;
        for (int p = lo; p < hi; p++)
            l += r->pos_loss[p], c += r->pos_correct[p];
        long long count = n * (hi - lo);
        char label[32];
        if (hi - lo == 1)
            snprintf(label, sizeof label, "%d", lo);
        else
            snprintf(label, sizeof label, "%d-%d", lo, hi - 1);
        fprintf(out, "%9s  %7lld  %6.4f  %9.4f  %8.4f\n", label, count, l / count,
                l / count / M_LN2, c / count);
    }
}

static void release(lm_report *r)
{
    free(r->pos_loss), free(r->pos_correct), free(r->logits), free(r->tok_json);
    model_free(r->m);
    dataset_close(r->val);
    backend_close(r->be);
}

int report_text_checkpoint(const config *cfg, const char *ckpt, const char *predict, FILE *out)
{
    lm_report r;
    memset(&r, 0, sizeof r);
    r.file = H5I_INVALID_HID;
    for (int s = 0; s < N_SETS; s++)
        r.sets[s] = H5I_INVALID_HID;
    int rc = setup(&r, cfg, ckpt);
    if (rc == 0 && predict)
        rc = open_predictions(&r, predict);
    if (rc == 0)
        rc = evaluate_batches(r.m, r.val, NULL, 0, 1, r.batch, each_batch, &r, r.sums);
    if (predict && close_predictions(&r, rc == 0) < 0)
        rc = -1;
    if (rc == 0)
        print(&r, ckpt, out);
    if (rc == 0 && predict)
        fprintf(out, "predictions in %s\n", predict);
    release(&r);
    return rc;
}
