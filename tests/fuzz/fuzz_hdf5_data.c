/* fuzz_hdf5_data: an HDF5 split (data.format = hdf5, the default
 * data.images_key /images and data.labels_key /labels), opened with
 * dataset_open as the trainer opens data.train, then batches gathered from
 * it and an index out of range refused.
 *
 * The input is the file. data.layout (auto, nchw, nhwc) is taken from the
 * input's length modulo 3, so each layout is reached without a byte of the
 * file being spent on it. Unlike a checkpoint, a data file has no CRC in
 * front: whatever libhdf5 does with a damaged file, the trainer does too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/dataset.h"
#include "fuzz_common.h"
#include "trainer/config.h"
#include "trainer/err.h"

/* Samples above this many values are legal (the reader allows up to 2^29)
 * but are only memory: a few bytes of HDF5 can declare a sample of 2 GiB
 * of fill value, which the gather would then really write. */
enum { MAX_GATHER_FEATURES = 1 << 20 };

static config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    config_defaults(&cfg);
    cfg.data_format = DATA_HDF5;
    return 0;
}

/* One sample, then a batch of four (unsorted, with a repeat, so the reader
 * sorts, merges runs and grows its scratch), then sample n, which must be
 * refused. */
static void read_some(dataset *ds)
{
    if (ds->features > MAX_GATHER_FEATURES)
        return;
    const int64_t one = 0, idx[4] = {ds->n - 1, 0, ds->n - 1, ds->n / 2};
    float *x = malloc(sizeof(float) * 4 * (size_t)ds->features);
    int32_t y[4];
    if (!x)
        return;
    if (dataset_gather(ds, &one, 1, x, y) == 0)
        dataset_gather(ds, idx, 4, x, y);
    const int64_t past = ds->n;
    if (dataset_gather(ds, &past, 1, x, y) == 0) {
        fprintf(stderr, "fuzz_hdf5_data: sample %lld of %lld was not refused\n", (long long)past,
                (long long)ds->n);
        abort();
    }
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("data.h5", data, size);
    static const int layouts[3] = {LAYOUT_AUTO, LAYOUT_NCHW, LAYOUT_NHWC};
    cfg.data_layout = layouts[size % 3];
    dataset *ds;
    fuzz_h5_begin();
    if (dataset_open(&ds, &cfg, path, "data.train") == 0) {
        read_some(ds);
        dataset_close(ds);
    }
    fuzz_h5_check("fuzz_hdf5_data");
    err_clear();
    return 0;
}
