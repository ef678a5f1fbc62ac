/* fuzz_tokens: token shards (data.format = tokens), opened with
 * dataset_open_splits as the trainer opens them, then a window and a batch
 * gathered from each split and a window out of range refused, every token
 * and target checked below the embedding's vocab (fuzz_splits, in
 * fuzz_common.h).
 *
 * The input's first 8 bytes are the settings: [0] the window,
 * block_size, 1 to 32; [1..2] the vocab (little-endian, 0: 65536); [3]
 * val_fraction, 0 to 0.9; [4] data.eval_tokens, 0 to 255; [5] bit 0:
 * the second shard is data.test's, else a second shard of data.train;
 * [6..7] (big-endian) how many of the bytes after the settings are the
 * first shard; the rest is the second (tests/fuzz/make_seeds.sh writes
 * the seeds). */
#include <stdint.h>
#include <stdio.h>

#include "data/dataset.h"
#include "fuzz_common.h"

enum { SETTINGS = 8 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < SETTINGS)
        return 0;
    const uint8_t *body = data + SETTINGS;
    size_t len = size - SETTINGS, split = (size_t)data[6] << 8 | data[7];
    if (split > len)
        split = len;
    const char *a = fuzz_write("a", body, split);
    const char *b = fuzz_write("b", body + split, len - split);
    bool test = data[5] & 1;
    char train[DATASET_SPEC_MAX];
    snprintf(train, sizeof train, "%s%s%s", a, test ? "" : ",", test ? "" : b);
    int vocab = data[1] | data[2] << 8;
    dataset_options o = {.format = DATA_TOKENS,
                         .train = train,
                         .test = test ? b : "",
                         .shape = "",
                         .images_key = "",
                         .labels_key = "",
                         .exclude = "",
                         .val_fraction = 0.9 * data[3] / 255,
                         .eval_tokens = data[4],
                         .window = 1 + data[0] % 32,
                         .vocab = vocab ? vocab : 65536};
    fuzz_splits(&o, "fuzz_tokens");
    return 0;
}
