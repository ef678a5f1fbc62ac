/* dataset_idx: an IDX split (MNIST, Fashion-MNIST) as a dataset: one channel
 * of rows x cols bytes per sample. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset_formats.h"
#include "data/idx.h"
#include "util/err.h"

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

int dataset_open_idx(dataset *ds, const char *spec, const char *key)
{
    char ipath[DATASET_SPEC_MAX + 32], lpath[DATASET_SPEC_MAX + 32];
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
    return dataset_mem_wrap(ds, key, im.n, 1, im.rows, im.cols, im.pixels, lb.labels);
}
