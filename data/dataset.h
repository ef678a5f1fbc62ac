/* dataset: a labelled split held in memory, and the gather of a batch.
 *
 * Pixels stay as bytes (a quarter of the memory of floats); a batch is
 * converted to floats in [0, 1] when it is gathered. */
#ifndef ACCEL_DATASET_H
#define ACCEL_DATASET_H

#include <stdint.h>

typedef struct {
    int64_t n;    /* samples */
    int features; /* values per sample */
    int classes;  /* labels are 0 .. classes-1 */
    uint8_t *pixels;
    uint8_t *labels;
} dataset;

/* Loads a split. `spec` is an IDX prefix P (P-images-idx3-ubyte[.gz] and
 * P-labels-idx1-ubyte[.gz]) or "IMAGES,LABELS". `key` names the config key
 * for messages ("data.train"). */
int dataset_load(dataset *ds, int format, const char *spec, const char *key);

/* Copies samples idx[0..count) into x (count x features floats in [0, 1])
 * and y (count labels). */
void dataset_gather(const dataset *ds, const int64_t *idx, int count, float *x, int32_t *y);

void dataset_free(dataset *ds);

#endif
