/* transform: what happens to a gathered batch before the model sees it:
 * in training, seeded augmentation (zero padding and a random crop back to
 * size, then a horizontal flip of half the images); always, per-channel
 * normalization (x - mean[c]) / std[c].
 *
 * Every random choice for a sample is a pure function of (run.seed, epoch,
 * the sample's index in the split), as the shuffle is: so it is the same on
 * any number of ranks, and after a resume. */
#ifndef ACCEL_TRANSFORM_H
#define ACCEL_TRANSFORM_H

#include <stdbool.h>
#include <stdint.h>

/* What a transform takes of the configuration (the trainer makes it from
 * its config, config_transform_options). The strings are borrowed for
 * transform_init: "" where unset, never NULL. */
typedef struct {
    const char *mean, *std; /* data.mean, data.std: a number per channel */
    int crop;               /* data.augment_crop */
    bool flip;              /* data.augment_flip */
    uint64_t seed;          /* run.seed */
} transform_options;

typedef struct {
    int channels, height, width;
    int pad;   /* data.augment_crop: pixels of zeros around, 0 = no crop */
    bool flip; /* data.augment_flip */
    uint64_t seed;
    float *mean, *std; /* per channel; NULL: no normalization */
    float *scratch;    /* one sample, for the augmentation */
} transform;

/* Takes data.mean, data.std, data.augment_crop and data.augment_flip for
 * samples of channels x height x width. Errors name the key. */
int transform_init(transform *t, const transform_options *o, int channels, int height, int width);

/* Transforms `count` NCHW samples in x in place. With train, sample_idx[i]
 * is sample i's index in the split and epoch the epoch it is drawn in; they
 * choose its augmentation. Without train, only normalization is applied and
 * sample_idx may be NULL. Allocates nothing; not for concurrent calls on
 * one transform (they share the scratch). */
void transform_apply(const transform *t, float *x, int count, const int64_t *sample_idx,
                     int64_t epoch, bool train);

void transform_free(transform *t);

#endif
