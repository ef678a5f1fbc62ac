/* dataset_formats: the readers behind dataset_open, one file each, and the
 * in-memory byte split that the IDX and CIFAR-10 readers share. Private to
 * data/: the rest of the program sees only dataset.h.
 *
 * Each opener fills a zeroed dataset and, when it fails, leaves nothing
 * behind to release. */
#ifndef ACCEL_DATASET_FORMATS_H
#define ACCEL_DATASET_FORMATS_H

#include <stdint.h>

#include "data/dataset.h"

int dataset_open_idx(dataset *ds, const char *spec, const char *key);
int dataset_open_cifar10(dataset *ds, const char *spec, const char *key);
int dataset_open_hdf5(dataset *ds, const dataset_options *o, const char *spec, const char *key);

/* Both parts of data.train's text, windows of t + 1 bytes; val NULL: all
 * of it trains (val_fraction 0). */
int dataset_open_text(dataset *train, dataset *val, const dataset_options *o, int t);

/* Token shards (llm.c's format): data.train's, and data.test's or the last
 * val_fraction of data.train's tokens to validate; windows of o->window
 * tokens. val NULL: no validation (data.test empty, val_fraction 0). */
int dataset_open_tokens(dataset *train, dataset *val, const dataset_options *o);

/* Makes ds a split of n samples of channels x height x width bytes (NCHW)
 * with byte labels; `key` names it in messages. Takes ownership of both
 * arrays, also when it fails. */
int dataset_mem_wrap(dataset *ds, const char *key, int64_t n, int channels, int height, int width,
                     uint8_t *pixels, uint8_t *labels);

#endif
