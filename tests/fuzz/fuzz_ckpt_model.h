/* fuzz_ckpt_model: the one model fuzz_checkpoint reads checkpoints into,
 * and make_ckpt_seed writes its seed checkpoint from. ckpt_read accepts
 * only a checkpoint of exactly the model it is given, so the two must build
 * the same one: both take it from here.
 *
 * Small, so that a checkpoint is a few KiB, but with every kind of tensor a
 * checkpoint holds: a convolution's rank-4 weight, batch norm's kept state
 * (running_mean, running_var, which must not be negative), a dense layer,
 * and layers without tensors (flatten, dropout), which have no group. */
#ifndef ACCEL_FUZZ_CKPT_MODEL_H
#define ACCEL_FUZZ_CKPT_MODEL_H

#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "kernels/backend.h"
#include "trainer/config.h"
#include "trainer/model.h"

static const char fuzz_ckpt_config[] = "[run]\n"
                                       "name = fuzz_ckpt\n"
                                       "seed = 7\n"
                                       "\n"
                                       "[data]\n"
                                       "batch_size = 2\n"
                                       "\n"
                                       "[layer]\n"
                                       "name = conv\n"
                                       "type = conv2d\n"
                                       "filters = 2\n"
                                       "size = 3\n"
                                       "padding = 1\n"
                                       "\n"
                                       "[layer]\n"
                                       "name = bn\n"
                                       "type = batchnorm\n"
                                       "activation = relu\n"
                                       "\n"
                                       "[layer]\n"
                                       "type = flatten\n"
                                       "\n"
                                       "[layer]\n"
                                       "type = dropout\n"
                                       "rate = 0.5\n"
                                       "\n"
                                       "[layer]\n"
                                       "name = head\n"
                                       "type = dense\n"
                                       "units = 3\n";

/* Samples of 1 x 4 x 4, two rows a pass. */
static const int fuzz_ckpt_shape[3] = {1, 4, 4};
enum { FUZZ_CKPT_ROWS = 2 };

/* Reads the config above as main() reads a config file, into cfg, and
 * builds its model on be. NULL, with err_msg(), when that fails. */
static inline model *fuzz_ckpt_model(config *cfg, backend *be)
{
    const char *path = fuzz_write("ckpt-model.ini", fuzz_ckpt_config, strlen(fuzz_ckpt_config));
    config_defaults(cfg);
    if (config_load(cfg, path) < 0 || config_validate(cfg) < 0)
        return NULL;
    return model_build(cfg, be, fuzz_ckpt_shape, FUZZ_CKPT_ROWS);
}

#endif
