/* dataset_mem: a split held in memory as bytes, pixels and labels, as the
 * IDX and CIFAR-10 readers produce it. A batch becomes floats only when it
 * is gathered. */
#include <stdio.h>
#include <stdlib.h>

#include "data/dataset_formats.h"
#include "util/err.h"

typedef struct {
    uint8_t *pixels; /* n x features */
    uint8_t *labels; /* n */
    char key[64];    /* for messages */
} mem_split;

static int mem_gather(dataset *ds, const int64_t *idx, int count, float *x, int32_t *y)
{
    const mem_split *m = ds->impl;
    const int f = ds->features;
    for (int i = 0; i < count; i++) {
        if (idx[i] < 0 || idx[i] >= ds->n)
            return err_set("%s: sample %lld is out of range (the split has %lld)", m->key,
                           (long long)idx[i], (long long)ds->n);
        const uint8_t *src = m->pixels + (size_t)idx[i] * f;
        float *dst = x + (size_t)i * f;
        for (int j = 0; j < f; j++)
            dst[j] = (float)src[j] / 255.0f;
        y[i] = m->labels[idx[i]];
    }
    return 0;
}

static void mem_close(dataset *ds)
{
    mem_split *m = ds->impl;
    if (m) {
        free(m->pixels);
        free(m->labels);
        free(m);
    }
    ds->impl = NULL;
}

int dataset_mem_wrap(dataset *ds, const char *key, int64_t n, int channels, int height, int width,
                     uint8_t *pixels, uint8_t *labels)
{
    mem_split *m = malloc(sizeof *m);
    if (!m) {
        free(pixels);
        free(labels);
        return err_set("out of memory for a dataset");
    }
    m->pixels = pixels;
    m->labels = labels;
    snprintf(m->key, sizeof m->key, "%s", key);
    int max_label = 0;
    for (int64_t i = 0; i < n; i++)
        if (labels[i] > max_label)
            max_label = labels[i];
    ds->n = n;
    ds->channels = channels;
    ds->height = height;
    ds->width = width;
    ds->features = channels * height * width;
    ds->classes = max_label + 1;
    ds->bytes = (uint64_t)n * (uint64_t)ds->features + (uint64_t)n;
    ds->gather = mem_gather;
    ds->close = mem_close;
    ds->impl = m;
    return 0;
}
