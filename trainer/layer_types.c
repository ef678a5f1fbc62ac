/* layer_types: the list of layer types. A new type is a file of its own
 * (its layer_ops table) and a line here and in layer_type (config.h). */
#include <string.h>

#include "trainer/layer.h"

const layer_ops *const layer_types[LAYER_N_TYPES] = {
    [LAYER_DENSE] = &layer_dense_ops,         [LAYER_DROPOUT] = &layer_dropout_ops,
    [LAYER_CONV2D] = &layer_conv2d_ops,       [LAYER_MAXPOOL] = &layer_maxpool_ops,
    [LAYER_AVGPOOL] = &layer_avgpool_ops,     [LAYER_GLOBAL_AVGPOOL] = &layer_global_avgpool_ops,
    [LAYER_FLATTEN] = &layer_flatten_ops,     [LAYER_BATCHNORM] = &layer_batchnorm_ops,
    [LAYER_RESIDUAL] = &layer_residual_ops,   [LAYER_EMBEDDING] = &layer_embedding_ops,
    [LAYER_LAYERNORM] = &layer_layernorm_ops, [LAYER_ATTENTION] = &layer_attention_ops,
};

int layer_type_find(const char *name)
{
    for (int t = 0; t < LAYER_N_TYPES; t++)
        if (!strcmp(layer_types[t]->name, name))
            return t;
    return -1;
}
