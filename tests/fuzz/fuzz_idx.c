/* fuzz_idx: an IDX split (data.format = idx, "IMAGES,LABELS"), opened with
 * dataset_open as the trainer opens data.train, then a batch gathered from
 * it and an index out of range refused.
 *
 * An IDX split is two files, so the input carries both: its first two bytes
 * (big-endian) say how many of the bytes after them are the images file,
 * and the rest is the labels file. Either may be gzipped or raw, as the
 * reader accepts both (tests/fuzz/make_seeds.sh writes the seeds). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/dataset.h"
#include "fuzz_common.h"
#include "trainer/config.h"
#include "trainer/err.h"

static config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    config_defaults(&cfg);
    cfg.data_format = DATA_IDX;
    return 0;
}

/* Gathers samples n-1, 0 and n/2 (unsorted, the first and last: what the
 * shuffled loader asks), then checks that sample n is refused. */
static void read_some(dataset *ds)
{
    const int64_t idx[3] = {ds->n - 1, 0, ds->n / 2};
    float *x = malloc(sizeof(float) * 3 * (size_t)ds->features);
    int32_t y[3];
    if (!x)
        return;
    dataset_gather(ds, idx, 3, x, y);
    const int64_t past = ds->n;
    if (dataset_gather(ds, &past, 1, x, y) == 0) {
        fprintf(stderr, "fuzz_idx: sample %lld of %lld was not refused\n", (long long)past,
                (long long)ds->n);
        abort();
    }
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t split = (size_t)data[0] << 8 | data[1];
    if (split > size - 2)
        split = size - 2;
    const char *images = fuzz_write("images", data + 2, split);
    const char *labels = fuzz_write("labels", data + 2 + split, size - 2 - split);
    char spec[CFG_STR_MAX];
    snprintf(spec, sizeof spec, "%s,%s", images, labels);
    dataset *ds;
    if (dataset_open(&ds, &cfg, spec, "data.train") == 0) {
        read_some(ds);
        dataset_close(ds);
    }
    err_clear();
    return 0;
}
