/* layer: one stage of the model. Each layer type is a file (layer_dense.c,
 * layer_conv2d.c, ...) providing a layer_ops table: its name, the config
 * keys it takes, its shape rule, forward, backward and FLOPs. layer_types.c
 * lists them; config.c and model.c know a type only through its table.
 *
 * A layer maps rows of in_shape to rows of out_shape, each of a rank: an
 * image (C, H, W), NCHW in memory; a sequence (T, C), position-major; or a
 * flat vector (features, 1, 1), rank 1. A model of token ids reads rows of
 * T ids (rank 1, int32), which only an embedding takes. Buffers are
 * backend memory. A layer declares its named tensors (weight, bias, running
 * statistics); model.c lays trained ones out in the flat parameter buffer
 * (and the same places of the gradient and Adam buffers) and the others in
 * the state buffer, and the checkpoint stores each under
 * /model/<layer>/<tensor>. A layer owns its output y and the gradient of the
 * loss with respect to it, `grad`; its backward reads `grad` and writes the
 * gradient of its input into the previous layer's `grad`. */
#ifndef ACCEL_LAYER_H
#define ACCEL_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "trainer/config.h"
#include "trainer/config_key.h"

typedef struct layer layer;
typedef struct model model;

#define LAYER_MAX_TENSORS 4

typedef struct {
    const char *name; /* as in PyTorch: weight, bias, running_mean, running_var */
    bool state;       /* kept, not trained: in model->state, not in params */
    int rank;
    int dims[4];
    size_t count;
    size_t offset; /* into params (and grads, m, v), or into state */
} layer_tensor;

typedef struct {
    const char *name;    /* the type as configs write it */
    const char *summary; /* what it computes, for --help-config */
    /* The [layer] keys the type takes besides type and name, ended by an
     * entry without a key. Values go into layer_cfg; a key that several
     * types take is described alike in each (test_config checks), but for
     * its help. */
    const config_key *keys;
    /* Sizes the layer for inputs of in[3] (of l->in_rank): sets out_shape
     * (and out_rank, when not in_rank) and declares the tensors. Errors
     * are about the configuration. */
    int (*shape)(layer *l, const layer_cfg *c, const int in[3]);
    /* Allocates the layer's buffers for up to max_rows rows. */
    int (*alloc)(model *m, layer *l, int max_rows);
    /* Fills the layer's tensors: params and state are the layer's first
     * tensor's place in host copies of the two flat buffers. */
    void (*init)(const layer *l, uint64_t seed, float *params, float *state);
    /* Computes l->out_ptr from x (rows of in_shape). */
    int (*forward)(model *m, layer *l, const float *x, int rows, bool train);
    /* From l->grad, writes parameter gradients and, when dx is not NULL,
     * the gradient with respect to x. */
    int (*backward)(model *m, layer *l, const float *x, float *dx, int rows);
    /* Generation, one position at a time (NULL: the type cannot): from
     * row 0 of x, a sequence whose positions up to pos are set, computes
     * position pos of l->out_ptr; the earlier positions of every buffer
     * are those of the steps before (attention's keys and values are its
     * cache). */
    int (*step)(model *m, layer *l, const float *x, int pos);
    /* Releases what alloc took beyond y, z and grad (may be NULL). */
    void (*release)(model *m, layer *l);
    /* Forward FLOPs of one sample (a multiply-add counts two); NULL: one a
     * value of the output. */
    double (*flops)(const layer *l);
    /* Backward multiplies twice (the weights' gradient and the input's),
     * where everything else costs about its forward again. */
    bool matmul;
    /* It reads token ids (the model's input), not floats. */
    bool takes_tokens;
} layer_ops;

struct layer {
    const layer_ops *ops;
    int index;
    char name[CFG_NAME_MAX];
    layer_type type;
    int in_shape[3], out_shape[3];
    int in_rank, out_rank; /* 3: (C, H, W); 2: (T, C); 1: (features) */
    int in, out;           /* features: the products of the shapes */
    act_kind act;
    init_kind init;
    /* gpt2 init: 1 / sqrt(the residual layers), where this layer's output
     * is what a residual adds to (a residual projection); else 1 */
    double init_scale;
    const layer *tied; /* the embedding whose wte is this layer's weight */
    float rate;
    const layer_cfg *cfg;

    layer_tensor tensors[LAYER_MAX_TENSORS];
    int n_tensors;
    size_t param_offset, n_params; /* the layer's run of the flat buffers, padding included */
    size_t n_trained;              /* its parameters: the tensors' values alone */
    size_t state_offset, n_state;
    /* Views of the tensors named weight and bias, when the layer has them. */
    size_t n_weight, n_bias;
    float *w, *b, *dw, *db;

    float *z;             /* pre-activation, when the gradient needs it; else y */
    float *y;             /* output storage */
    const float *out_ptr; /* this step's output: y, or the input itself */
    float *grad;          /* d loss / d out */
    void *impl;           /* the layer type's own state (plans, statistics) */
};

/* For shape functions of layers that work on images (or flat vectors, with
 * flat = true): refuses a sequence (T, C), saying what the layer needs. */
int layer_refuse_sequence(const layer *l, bool flat);

/* The step of a window layer's window: its `stride` key, or when that is
 * 0 the type's default (a convolution's 1, a pool's window size). */
int layer_stride(const layer_cfg *c);

/* The geometry of a conv2d layer's convolution, as it plans it
 * (layer_conv2d.c): for the memory check, which asks the device what
 * workspace that plan takes before anything is allocated. */
conv_geom layer_conv_geom(const layer *l);

/* Declares a tensor of the layer (from its shape function). */
void layer_add_tensor(layer *l, const char *name, bool state, int rank, const int *dims);

/* The tensor of the layer with this name, or NULL. */
const layer_tensor *layer_find_tensor(const layer *l, const char *name);

/* Allocates y (and z when the activation's gradient needs it) for max_rows
 * rows of out_shape, and grad for the model's train_rows: what most layers
 * need. */
int layer_alloc_output(model *m, layer *l, int max_rows);

/* Tensor t of the layer in the flat parameter buffer, or in the gradient
 * buffer with grad. */
float *layer_tensor_at(const model *m, const layer *l, int t, bool grad);

/* Where trained tensor t lies in the host copy an init function is given
 * (params, at the layer's first trained tensor): tensors start aligned, so
 * a tensor does not follow the one before it directly. */
float *layer_init_place(const layer *l, float *params, int t);

/* N(0, std^2) values for tensor t of the layer, from its random stream. */
void layer_init_normal(const layer *l, uint64_t seed, int t, float *w, size_t n, double std);

/* Weights as the layer's init says: He- or Glorot-uniform for fan_in and
 * fan_out, or GPT-2's normal, from the layer's random stream. */
void layer_init_weight(const layer *l, uint64_t seed, float *w, size_t n, double fan_in,
                       double fan_out);

/* The layer_cfg field behind a layer key, for the keys' tables. */
#define LAYER_FIELD(f) offsetof(layer_cfg, f), sizeof(((layer_cfg *)0)->f)

/* Keys that several types take, with each type's help. */
#define LAYER_KEY_ACTIVATION(help)                                                                 \
    {                                                                                              \
        "layer", "activation", KT_ENUM, LAYER_FIELD(activation), "none", 0, 0, 0,                  \
            "none|relu|tanh|sigmoid|gelu|gelu_tanh", help, false                                   \
    }
#define LAYER_KEY_INIT(help)                                                                       \
    {                                                                                              \
        "layer", "init", KT_ENUM, LAYER_FIELD(init), "auto", 0, 0, CK_STARTS,                      \
            "auto|he_uniform|glorot_uniform|gpt2", help, false                                     \
    }
#define LAYER_KEY_SIZE(help)                                                                       \
    {                                                                                              \
        "layer", "size", KT_INT, LAYER_FIELD(size), NULL, 1, 1024, 0, NULL, help, true             \
    }
#define LAYER_KEY_STRIDE(help)                                                                     \
    {                                                                                              \
        "layer", "stride", KT_INT, LAYER_FIELD(stride), "0", 0, 1024, 0, NULL, help, false         \
    }
#define LAYER_KEY_UNITS(help)                                                                      \
    {                                                                                              \
        "layer", "units", KT_INT, LAYER_FIELD(units), NULL, 1, 1 << 24, 0, NULL, help, true        \
    }
#define LAYER_KEY_EPS(help)                                                                        \
    {                                                                                              \
        "layer", "eps", KT_REAL, LAYER_FIELD(eps), "1e-5", 0, 1, CK_LO_OPEN, NULL, help, false     \
    }
#define LAYER_KEY_PADDING(help)                                                                    \
    {                                                                                              \
        "layer", "padding", KT_INT, LAYER_FIELD(padding), "0", 0, 1024, 0, NULL, help, false       \
    }

/* Every layer type, indexed by layer_type (layer_types.c). */
extern const layer_ops *const layer_types[LAYER_N_TYPES];

/* The type called `name`, or -1. */
int layer_type_find(const char *name);

extern const layer_ops layer_dense_ops;
extern const layer_ops layer_dropout_ops;
extern const layer_ops layer_conv2d_ops;
extern const layer_ops layer_maxpool_ops;
extern const layer_ops layer_avgpool_ops;
extern const layer_ops layer_global_avgpool_ops;
extern const layer_ops layer_flatten_ops;
extern const layer_ops layer_batchnorm_ops;
extern const layer_ops layer_residual_ops;
extern const layer_ops layer_embedding_ops;
extern const layer_ops layer_layernorm_ops;
extern const layer_ops layer_attention_ops;

#endif
