/* fuzz_cifar: a CIFAR-10 binary batch (data.format = cifar10), opened with
 * dataset_open as the trainer opens data.train, then a batch gathered from
 * it and an index out of range refused.
 *
 * The input is the file. The split is given as that file listed twice
 * ("F,F"), so the reader's handling of several files (the record count of
 * each, where each one's records go) is exercised too. */
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
    cfg.data_format = DATA_CIFAR10;
    return 0;
}

/* Gathers samples n-1, 0 and n/2 (the last comes from the second copy),
 * then checks that sample n is refused. */
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
        fprintf(stderr, "fuzz_cifar: sample %lld of %lld was not refused\n", (long long)past,
                (long long)ds->n);
        abort();
    }
    free(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("cifar.bin", data, size);
    char spec[CFG_STR_MAX];
    snprintf(spec, sizeof spec, "%s,%s", path, path);
    dataset *ds;
    if (dataset_open(&ds, &cfg, spec, "data.train") == 0) {
        read_some(ds);
        dataset_close(ds);
    }
    err_clear();
    return 0;
}
