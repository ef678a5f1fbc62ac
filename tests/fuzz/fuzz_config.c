/* fuzz_config: the config file, read as main() reads it (config_defaults,
 * config_load, config_validate), then, when it is valid, the model it
 * describes planned on a counting backend and, when it is small, built on
 * the CPU backend, for 1 x 28 x 28 inputs (the shape of Fashion-MNIST, what
 * configs/ train on), and freed again.
 *
 * The input is the file's text. A config is expected to be refused in most
 * ways; the harness fails only on a crash, a sanitizer report, a leak or a
 * hang. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "kernels/backend.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "util/err.h"

/* A few rows: enough for every buffer's row arithmetic, little memory. */
enum { ROWS = 4 };

/* The most a model may take to be built for real (see below). */
#define REAL_BUILD_MAX ((size_t)64 << 20)

static backend *be, *counting;
static FILE *devnull;

static void close_all(void)
{
    backend_close(be);
    backend_close(counting);
    if (devnull)
        fclose(devnull);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    /* One backend for the process, as the program has: opening it per input
     * would only measure OpenBLAS's start-up. */
    be = backend_cpu_open(1);
    counting = backend_cpu_counting_open();
    devnull = fopen("/dev/null", "w");
    if (!be || !counting || !devnull) {
        fprintf(stderr, "fuzz_config: cannot open the CPU backend or /dev/null: %s\n", err_msg());
        abort();
    }
    atexit(close_all);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("config.ini", data, size);
    /* config is large (256 layers): on the heap, as main() has it */
    config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return 0;
    config_defaults(cfg);
    if (config_load(cfg, path) == 0 && config_validate(cfg) == 0) {
        /* what --dry-run prints: reads every key back */
        config_write(cfg, devnull);
        /* as training does: planned on a counting backend first (memplan),
         * built for real only when that is small, so that a config of
         * gigabytes costs the fuzzer nothing and still has its sizes
         * worked out and checked */
        /* images, or for a language model 16 tokens (at most its block) */
        model_input in = {.shape = {1, 28, 28}};
        if (cfg->layers[0].type == LAYER_EMBEDDING)
            in = (model_input){
                .tokens = true,
                .shape = {cfg->layers[0].block_size < 16 ? cfg->layers[0].block_size : 16, 1, 1}};
        model *m = model_build_input(cfg, counting, &in, ROWS, ROWS);
        bool small = m && counting->bytes_allocated <= REAL_BUILD_MAX;
        model_free(m);
        counting->bytes_allocated = 0;
        if (small)
            model_free(model_build_input(cfg, be, &in, ROWS, ROWS));
    }
    config_free(cfg);
    free(cfg);
    err_clear();
    return 0;
}
