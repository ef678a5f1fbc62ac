/* fuzz_text: data.train's text (data.format = text), opened with
 * dataset_open_splits as the trainer opens it, then a window and a batch
 * gathered from each part and a window out of range refused, every token
 * and target checked below the split's vocabulary (fuzz_splits, in
 * fuzz_common.h).
 *
 * The input's first 6 bytes are the settings, so that the fuzzer explores
 * them with the text: [0] the window, block_size, 1 to 32; [1] the
 * embedding's vocab, 1 to 255 (0: 256, no byte refused); [2]
 * val_fraction, 0 to 0.9; [3] data.eval_tokens, 0 to 255; [4] the memory
 * budget, 64 bytes to 128 KiB (ACCEL_MEM_BUDGET), so that the stream's
 * growth meets it; [5] where the rest is cut into the two files of
 * data.train ("A,B": the stream is their bytes in path order). The rest
 * is the text (tests/fuzz/make_seeds.sh writes the seeds). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/dataset.h"
#include "fuzz_common.h"

enum { SETTINGS = 6 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < SETTINGS)
        return 0;
    char budget[32];
    snprintf(budget, sizeof budget, "%u", 64u << (data[4] % 12));
    if (setenv("ACCEL_MEM_BUDGET", budget, 1) != 0)
        abort();
    const uint8_t *text = data + SETTINGS;
    size_t len = size - SETTINGS, cut = len * data[5] / 255;
    const char *a = fuzz_write("a", text, cut);
    const char *b = fuzz_write("b", text + cut, len - cut);
    char spec[DATASET_SPEC_MAX];
    snprintf(spec, sizeof spec, "%s,%s", a, b);
    dataset_options o = {.format = DATA_TEXT,
                         .train = spec,
                         .test = "",
                         .shape = "",
                         .images_key = "",
                         .labels_key = "",
                         .exclude = "",
                         .val_fraction = 0.9 * data[2] / 255,
                         .eval_tokens = data[3],
                         .window = 1 + data[0] % 32,
                         .vocab = data[1] ? data[1] : 256};
    fuzz_splits(&o, "fuzz_text");
    return 0;
}
