/* layer: one stage of the model. Each layer type is a file (layer_dense.c,
 * layer_dropout.c) providing a layer_ops table; model.c strings them together.
 *
 * Buffers are backend memory. Parameters and their gradients are views into
 * the model's flat buffers (see model.h). A layer owns its output y and the
 * gradient of the loss with respect to that output, `grad`; its backward
 * reads `grad` and writes the gradient of its input into the previous
 * layer's `grad`. */
#ifndef ACCEL_LAYER_H
#define ACCEL_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "trainer/config.h"

typedef struct layer layer;
typedef struct model model;

typedef struct {
    /* Sizes the layer for `in` input features: sets out and the parameter
     * counts. Errors are about the configuration. */
    int (*shape)(layer *l, const layer_cfg *c, int in);
    /* Allocates the layer's activation buffers for up to max_rows rows. */
    int (*alloc)(model *m, layer *l, int max_rows);
    /* Fills the layer's parameters (host memory, layer's own slice). */
    void (*init)(const layer *l, uint64_t seed, float *params);
    /* Computes l->out from x (rows x in). */
    int (*forward)(model *m, layer *l, const float *x, int rows, bool train);
    /* From l->grad, writes parameter gradients and, when dx is not NULL,
     * the gradient with respect to x. */
    int (*backward)(model *m, layer *l, const float *x, float *dx, int rows);
} layer_ops;

struct layer {
    const layer_ops *ops;
    int index;
    char name[CFG_NAME_MAX];
    layer_type type;
    int in, out; /* features */
    act_kind act;
    init_kind init;
    float rate;

    size_t param_offset; /* into the flat buffers */
    size_t n_weight, n_bias;
    float *w, *b, *dw, *db;

    float *z;             /* pre-activation, when the gradient needs it; else y */
    float *y;             /* output storage */
    const float *out_ptr; /* this step's output: y, or the input itself */
    float *grad;          /* d loss / d out */
};

extern const layer_ops layer_dense_ops;
extern const layer_ops layer_dropout_ops;

#endif
