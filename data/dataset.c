#include "data/dataset.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/idx.h"
#include "trainer/config.h"
#include "trainer/err.h"

/* Resolves P-<kind>-idxN-ubyte, preferring the gzipped file. */
static int idx_path(const char *prefix, const char *kind, char *out, size_t size, const char *key)
{
    const char *suffixes[2] = {".gz", ""};
    for (int i = 0; i < 2; i++) {
        int n = snprintf(out, size, "%s-%s%s", prefix, kind, suffixes[i]);
        if (n < 0 || (size_t)n >= size)
            return err_set("%s: path too long", key);
        if (access(out, F_OK) == 0)
            return 0;
    }
    return err_set("%s = %s: found neither %s-%s.gz nor %s-%s", key, prefix, prefix, kind, prefix,
                   kind);
}

static int split_spec(const char *spec, const char *key, char *images, char *labels, size_t size)
{
    const char *comma = strchr(spec, ',');
    if (comma) {
        snprintf(images, size, "%.*s", (int)(comma - spec), spec);
        snprintf(labels, size, "%s", comma + 1);
        return 0;
    }
    if (idx_path(spec, "images-idx3-ubyte", images, size, key) < 0)
        return -1;
    return idx_path(spec, "labels-idx1-ubyte", labels, size, key);
}

int dataset_load(dataset *ds, int format, const char *spec, const char *key)
{
    memset(ds, 0, sizeof *ds);
    if (format != DATA_IDX)
        return err_set("%s: unsupported data format", key);
    if (!spec[0])
        return err_set("%s: no path given", key);
    char ipath[CFG_STR_MAX + 32], lpath[CFG_STR_MAX + 32];
    if (split_spec(spec, key, ipath, lpath, sizeof ipath) < 0)
        return -1;

    idx_images im;
    idx_labels lb;
    if (idx_read_images(ipath, &im) < 0)
        return err_prefix("%s", key);
    if (idx_read_labels(lpath, &lb) < 0) {
        idx_images_free(&im);
        return err_prefix("%s", key);
    }
    if (im.n != lb.n) {
        err_set("%s: %s has %lld images but %s has %lld labels", key, ipath, (long long)im.n, lpath,
                (long long)lb.n);
        idx_images_free(&im);
        idx_labels_free(&lb);
        return -1;
    }
    int max_label = 0;
    for (int64_t i = 0; i < lb.n; i++)
        if (lb.labels[i] > max_label)
            max_label = lb.labels[i];
    ds->n = im.n;
    ds->features = im.rows * im.cols;
    ds->classes = max_label + 1;
    ds->pixels = im.pixels;
    ds->labels = lb.labels;
    return 0;
}

void dataset_gather(const dataset *ds, const int64_t *idx, int count, float *x, int32_t *y)
{
    const int f = ds->features;
    for (int i = 0; i < count; i++) {
        const uint8_t *src = ds->pixels + (size_t)idx[i] * f;
        float *dst = x + (size_t)i * f;
        for (int j = 0; j < f; j++)
            dst[j] = (float)src[j] / 255.0f;
        y[i] = ds->labels[idx[i]];
    }
}

void dataset_free(dataset *ds)
{
    idx_images im = {.pixels = ds->pixels};
    idx_labels lb = {.labels = ds->labels};
    idx_images_free(&im);
    idx_labels_free(&lb);
    memset(ds, 0, sizeof *ds);
}
