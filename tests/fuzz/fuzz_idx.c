/* fuzz_idx: an IDX split (data.format = idx, "IMAGES,LABELS"), opened with
 * dataset_open as the trainer opens data.train, then a sample and a batch
 * gathered from it and an index out of range refused (fuzz_dataset, in
 * fuzz_common.h).
 *
 * An IDX split is two files, so the input carries both: its first two bytes
 * (big-endian) say how many of the bytes after them are the images file,
 * and the rest is the labels file. Either may be gzipped or raw, as the
 * reader accepts both (tests/fuzz/make_seeds.sh writes the seeds). */
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
    cfg.data_format = DATA_IDX;
    return 0;
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
    fuzz_dataset(&cfg, spec, "fuzz_idx");
    return 0;
}
