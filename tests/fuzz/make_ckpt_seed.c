/* make_ckpt_seed: writes the seed checkpoint of fuzz_checkpoint, a real
 * checkpoint of the model in fuzz_ckpt_model.h, with ckpt_save as the
 * trainer writes one: DIR/ckpt-2.h5. tests/fuzz/make_seeds.sh runs it and
 * derives the other checkpoint seeds from that file. With TOKENIZER, the
 * checkpoint carries that tokenizer.json (/tokenizer), as a run with
 * data.tokenizer writes one.
 *
 *     make_ckpt_seed DIR [TOKENIZER] */
#include <stdio.h>
#include <stdlib.h>

#include "data/tokenizer.h"
#include "fuzz_ckpt_model.h"
#include "trainer/checkpoint.h"
#include "util/err.h"

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: make_ckpt_seed DIR [TOKENIZER]\n");
        return 2;
    }
    size_t tok_len = 0;
    char *tok = argc == 3 ? tok_read_file(argv[2], &tok_len) : NULL;
    if (argc == 3 && !tok) {
        fprintf(stderr, "make_ckpt_seed: %s\n", err_msg());
        return 1;
    }
    backend *be = backend_cpu_open(1);
    static config cfg; /* large: 256 layers */
    model *m = be ? fuzz_ckpt_model(&cfg, be) : NULL;
    int rc = m ? model_init_params(m, cfg.seed) : -1;
    if (rc == 0) {
        /* moments as two steps of Adam would leave them: small, and the
         * second never negative (the reader refuses a negative one) */
        for (size_t i = 0; i < m->n_params; i++) {
            m->adam_m[i] = 0.01f * (float)((int)(i % 7) - 3);
            m->adam_v[i] = 1e-4f * (float)(i % 5);
        }
        /* step 2 of an epoch of more, with batches of data.batch_size */
        ckpt_state st = {.step = 2,
                         .epoch = 0,
                         .step_in_epoch = 2,
                         .samples_seen = 2 * (int64_t)cfg.batch_size,
                         .world_size = 1,
                         .batch_size = cfg.batch_size,
                         .cpu_threads = 1,
                         .seed = cfg.seed,
                         .tokenizer = tok,
                         .tokenizer_len = tok_len};
        char path[4096];
        rc = ckpt_save(argv[1], m, &cfg, &st, path, sizeof path);
        if (rc == 0)
            printf("%s\n", path);
    }
    if (rc < 0)
        fprintf(stderr, "make_ckpt_seed: %s\n", err_msg());
    free(tok);
    model_free(m);
    config_free(&cfg);
    backend_close(be);
    return rc < 0 ? 1 : 0;
}
