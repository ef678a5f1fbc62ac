/* fuzz_cifar: a CIFAR-10 binary batch (data.format = cifar10), opened with
 * dataset_open as the trainer opens data.train, then a sample and a batch
 * gathered from it and an index out of range refused (fuzz_dataset, in
 * fuzz_common.h).
 *
 * The input is the file. The split is given as that file listed twice
 * ("F,F"), so the reader's handling of several files (the record count of
 * each, where each one's records go) is exercised too: the batch's samples
 * n-1 and n/2 come from the second copy, 0 from the first. */
#include <stdint.h>
#include <stdio.h>

#include "fuzz_common.h"
#include "trainer/config.h"

static config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    config_defaults(&cfg);
    cfg.data_format = DATA_CIFAR10;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("cifar.bin", data, size);
    char spec[CFG_STR_MAX];
    snprintf(spec, sizeof spec, "%s,%s", path, path);
    fuzz_dataset(&cfg, spec, "fuzz_cifar");
    return 0;
}
