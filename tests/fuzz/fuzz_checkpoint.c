/* fuzz_checkpoint: a checkpoint, read with ckpt_read into the fixed model of
 * fuzz_ckpt_model.h, as --resume and --eval read one.
 *
 * A checkpoint's header holds a CRC-32C of the rest, checked before HDF5
 * reads a byte, so random mutations of a whole file would almost all stop
 * there. The first byte of the input therefore chooses:
 *   even  the rest of the input is the checkpoint's HDF5 part (what follows
 *         the header): the harness puts a fresh, valid header in front of it
 *         (ckpt_seal), so the mutations reach libhdf5 and ckpt_read's checks
 *         of the attributes, shapes and values behind the CRC;
 *   odd   the input is the whole file, as is: the header and CRC checks
 *         themselves. A real checkpoint starts with "accel-train" ('a' is
 *         odd), so one replays unchanged.
 * (The even case drops its first byte so that the HDF5 signature of a real
 * checkpoint's rest lands at offset CKPT_HEADER_BYTES, where libhdf5 looks
 * for it.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_ckpt_model.h"
#include "fuzz_common.h"
#include "data/tokenizer.h"
#include "kernels/backend.h"
#include "trainer/checkpoint.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "util/err.h"

static backend *be;
static config cfg;
static model *m;
static float *host;

static void close_all(void)
{
    free(host);
    model_free(m);
    config_free(&cfg);
    backend_close(be);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    be = backend_cpu_open(1);
    m = be ? fuzz_ckpt_model(&cfg, be) : NULL;
    /* the reader's buffer, sized as resume.c sizes it */
    host = m ? malloc(sizeof(float) * (ckpt_host_floats(m) + 1)) : NULL;
    if (!host) {
        fprintf(stderr, "fuzz_checkpoint: cannot build the model: %s\n", err_msg());
        abort();
    }
    atexit(close_all);
    return 0;
}

/* Writes the file ckpt_read will read (see the top of this file). */
static const char *write_input(const uint8_t *data, size_t size)
{
    if (data[0] % 2)
        return fuzz_write("ckpt.h5", data, size);
    size_t bytes = CKPT_HEADER_BYTES + size - 1;
    unsigned char *image = malloc(bytes);
    if (!image)
        abort();
    memcpy(image + CKPT_HEADER_BYTES, data + 1, size - 1);
    ckpt_seal(image, bytes);
    const char *path = fuzz_write("ckpt.h5", image, bytes);
    free(image);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *path = write_input(data, size);
    /* ckpt_read promises to change *st only on success */
    ckpt_state st, before;
    memset(&st, 0xa5, sizeof st);
    before = st;
    fuzz_h5_begin();
    int rc = ckpt_read(path, m, NULL, &st, host);
    if (rc != 0 && rc != CKPT_DAMAGED && rc != CKPT_MISMATCH) {
        fprintf(stderr, "fuzz_checkpoint: ckpt_read returned %d\n", rc);
        abort();
    }
    if (rc != 0 && memcmp(&st, &before, sizeof st) != 0) {
        fprintf(stderr, "fuzz_checkpoint: ckpt_read failed (%s) but changed the state\n",
                err_msg());
        abort();
    }
    /* the tokenizer it may carry (/tokenizer), as --generate, --eval and
     * a resume read it: refused with a code, or bytes with a NUL after
     * them, which the tokenizer's loader takes or refuses */
    char *json = NULL;
    size_t len = 0;
    rc = ckpt_read_tokenizer(path, &json, &len);
    if (rc != 0 && rc != CKPT_DAMAGED && rc != CKPT_MISMATCH) {
        fprintf(stderr, "fuzz_checkpoint: ckpt_read_tokenizer returned %d\n", rc);
        abort();
    }
    if ((rc != 0 && json) || (json && (len == 0 || json[len] != '\0'))) {
        fprintf(stderr, "fuzz_checkpoint: ckpt_read_tokenizer gave %zu bytes (rc %d)\n", len, rc);
        abort();
    }
    if (json)
        tok_close(tok_open_buffer(json, len, "the checkpoint's tokenizer"));
    free(json);
    fuzz_h5_check("fuzz_checkpoint");
    err_clear();
    return 0;
}
