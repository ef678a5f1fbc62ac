/* dataset: opening a split by format, and what every format shares: the
 * check of the samples' shape against data.shape. */
#include "data/dataset.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "data/dataset_formats.h"
#include "util/err.h"

/* Parses data.shape, "C,H,W" with three positive integers. */
static int parse_shape(const char *text, int shape[3])
{
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        bool more = i < 2;
        if (end == p || errno || v <= 0 || v > (1 << 20) || *end != (more ? ',' : '\0'))
            return err_set("data.shape = %s: expected C,H,W, three positive integers (e.g. "
                           "3,32,32)",
                           text);
        shape[i] = (int)v;
        p = end + 1;
    }
    return 0;
}

static int check_shape(const dataset *ds, const int want[3], const char *text, const char *key,
                       const char *spec)
{
    if (want[0] != ds->channels || want[1] != ds->height || want[2] != ds->width)
        return err_set("%s = %s has samples of shape %d,%d,%d (C,H,W) but data.shape = %s", key,
                       spec, ds->channels, ds->height, ds->width, text);
    return 0;
}

static int open_format(dataset *ds, const dataset_options *o, const char *spec, const char *key)
{
    switch (o->format) {
    case DATA_IDX:
        return dataset_open_idx(ds, spec, key);
    case DATA_CIFAR10:
        return dataset_open_cifar10(ds, spec, key);
    case DATA_HDF5:
        return dataset_open_hdf5(ds, o, spec, key);
    default:
        return err_set("%s: unsupported data format %d", key, (int)o->format);
    }
}

int dataset_open(dataset **out, const dataset_options *o, const char *spec, const char *key)
{
    *out = NULL;
    if (!spec[0])
        return err_set("%s: no path given", key);
    /* A malformed data.shape is told before any file is read. */
    int want[3];
    if (o->shape[0] && parse_shape(o->shape, want) < 0)
        return -1;
    dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return err_set("%s: out of memory", key);
    if (open_format(ds, o, spec, key) < 0) {
        free(ds);
        return -1;
    }
    if (o->shape[0] && check_shape(ds, want, o->shape, key, spec) < 0) {
        dataset_close(ds);
        return -1;
    }
    ds->targets = 1; /* a label an image */
    *out = ds;
    return 0;
}

/* The window of text a language model reads: its embedding's block_size. */
static int text_window(const dataset_options *o, int *t)
{
    if (o->window < 1)
        return err_set("data.format = %s: the first layer must be an embedding (its "
                       "block_size is the window of tokens)",
                       o->format == DATA_TOKENS ? "tokens" : "text");
    if (o->format == DATA_TEXT && o->test[0])
        return err_set("data.format = text takes its validation split from the end of "
                       "data.train (data.val_fraction): set data.test empty");
    if (o->image_transforms)
        return err_set("data.mean, data.std and data.augment_* are for images, not text");
    *t = o->window;
    return 0;
}

/* The shape of an image format's samples: data.shape, or the format's
 * usual one (*assumed). */
static int image_shape(const dataset_options *o, int shape[3], bool *assumed)
{
    static const int idx[3] = {1, 28, 28}, cifar10[3] = {3, 32, 32};
    if (o->shape[0])
        return parse_shape(o->shape, shape);
    if (o->format == DATA_HDF5)
        return err_set("data.format = hdf5 keeps its samples' shape in the file: set data.shape "
                       "= C,H,W to describe the model without it");
    const int *usual = o->format == DATA_CIFAR10 ? cifar10 : idx;
    for (int i = 0; i < 3; i++)
        shape[i] = usual[i];
    *assumed = true;
    return 0;
}

int dataset_describe(dataset *ds, bool *has_test, bool *assumed, const dataset_options *o)
{
    *ds = (dataset){.targets = 1};
    *assumed = false;
    int shape[3] = {0, 1, 1};
    if (o->format == DATA_TEXT || o->format == DATA_TOKENS) {
        if (text_window(o, &shape[0]) < 0)
            return -1;
        ds->tokens = true;
        ds->targets = shape[0];
        ds->classes = o->vocab;
        *has_test = o->val_fraction > 0 || (o->format == DATA_TOKENS && o->test[0]);
    } else {
        if (o->tokenizer && o->tokenizer[0])
            return err_set("data.tokenizer = %s is for data.format = text or tokens", o->tokenizer);
        if (image_shape(o, shape, assumed) < 0)
            return -1;
        *has_test = o->test[0] != '\0';
    }
    ds->channels = shape[0];
    ds->height = shape[1];
    ds->width = shape[2];
    ds->features = shape[0] * shape[1] * shape[2];
    return 0;
}

static int open_text(dataset **train, dataset **test, const dataset_options *o)
{
    int t = 0;
    if (text_window(o, &t) < 0)
        return -1;
    /* data.test's shards validate tokens; otherwise the end of data.train */
    bool has_val = o->val_fraction > 0 || (o->format == DATA_TOKENS && o->test[0]);
    dataset *tr = calloc(1, sizeof *tr), *va = has_val ? calloc(1, sizeof *va) : NULL;
    if (!tr || (has_val && !va)) {
        free(tr);
        free(va);
        return err_set("data.train: out of memory");
    }
    int rc =
        o->format == DATA_TOKENS ? dataset_open_tokens(tr, va, o) : dataset_open_text(tr, va, o, t);
    if (rc < 0) {
        free(tr);
        free(va);
        return -1;
    }
    *train = tr;
    *test = va;
    return 0;
}

int dataset_open_splits(dataset **train, dataset **test, const dataset_options *o)
{
    *train = *test = NULL;
    if (o->format == DATA_TEXT || o->format == DATA_TOKENS)
        return open_text(train, test, o);
    if (o->tokenizer && o->tokenizer[0])
        return err_set("data.tokenizer = %s is for data.format = text or tokens", o->tokenizer);
    if (dataset_open(train, o, o->train, "data.train") < 0)
        return -1;
    if (o->test[0] && dataset_open(test, o, o->test, "data.test") < 0) {
        dataset_close(*train);
        *train = NULL;
        return -1;
    }
    return 0;
}

void dataset_close(dataset *ds)
{
    if (!ds)
        return;
    if (ds->close)
        ds->close(ds);
    free(ds);
}
