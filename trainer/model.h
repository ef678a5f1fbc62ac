/* model: the stack of layers and its flat buffers.
 *
 * All parameters live in one contiguous buffer, in layer order (each dense
 * layer: weight (out x in, row-major, as PyTorch's nn.Linear) then bias).
 * Gradients live in a second buffer of the same layout and the two Adam
 * moments in two more, so all-reduce, clipping, the optimizer and checkpoints
 * each walk a single buffer. Layers hold views into them. With
 * optimizer.shard on several ranks the moments hold only this rank's
 * pieces of the layout (comm/shard_plan.h). */
#ifndef ACCEL_MODEL_H
#define ACCEL_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "comm/shard_plan.h"
#include "kernels/backend.h"
#include "trainer/config.h"
#include "trainer/layer.h"

enum { MODEL_SLOT_OTHER = 2 };

/* The most values one buffer or tensor may hold: the kernels and BLAS
 * index with int. Sizes are checked against it in 64-bit arithmetic when
 * the model is built, so a config or a data set too large is refused with
 * the layer and the size instead of wrapping. */
#define MODEL_MAX_VALUES ((int64_t)INT32_MAX)

/* Every trained tensor starts at a multiple of this many floats (256
 * bytes) in the flat buffers: cuDNN and vectorized kernels want their
 * operands aligned, and gradient buckets, cut at layers, start aligned. */
enum { MODEL_ALIGN = 64 };

struct model {
    backend *be;
    layer *layers;
    int n_layers;
    int in_shape[3]; /* of a sample: (C, H, W), or (T, 1, 1) token ids */
    int in_rank;     /* 3 for images, 1 for token ids */
    bool in_tokens;  /* the input is int32 token ids (x holds them) */
    int in_features, classes;
    /* Targets a sample: 1 label (classification), or one a position of a
     * (T, classes) output (language models); the loss is the mean over
     * them. */
    int positions;
    int max_rows;   /* rows of a forward pass */
    int train_rows; /* rows of a backward pass */
    int batch_rows; /* rows of an input buffer: a step's, all its micro-batches */

    /* Values in each flat buffer: the trained tensors, each starting at a
     * multiple of MODEL_ALIGN floats, and the zeros between them, which
     * stay zero (no gradient reaches them, so Adam leaves them be). */
    size_t n_params;
    size_t n_trained; /* the parameters themselves, what the summaries count */
    float *params, *grads, *adam_m, *adam_v;
    /* Floats in adam_m and adam_v: n_params, or, with the optimizer state
     * sharded over ranks (optimizer.shard), this rank's pieces of the
     * buffer as shard says (comm/shard_plan.h), about n_params / ranks. */
    size_t n_moments;
    shard_plan *shard; /* NULL: the moments are whole */
    int shard_rank;
    /* What layers keep but do not train (batch norm's running statistics),
     * in backend memory beside the parameters, where the layers update it;
     * checkpoints, checksums and resumes copy it as they copy those. */
    size_t n_state;
    float *state;

    /* Forward reads its input from x (rows x in_features) and the loss its
     * labels from y. They point at one of three buffers of max_rows rows:
     * slots 0 and 1 hold training batches, one computing while the next is
     * copied in (train.c); MODEL_SLOT_OTHER serves everything else and is
     * where they point unless a caller moves them. */
    float *x; /* token ids, int32, where in_tokens */
    int32_t *y;
    float *x_slot[3];
    int32_t *y_slot[3];

    float *stats; /* per-row loss and correctness, 2 x max_rows */
    float *host_stats;

    /* Dropout's coordinates for the current step (see math_dropout_scale). */
    uint64_t seed;
    uint32_t step;
    int64_t first_row; /* global position of this rank's first row in the batch */
};

/* What a model reads: images (C, H, W) of floats, or rows of T token ids. */
typedef struct {
    bool tokens;
    int shape[3];   /* (C, H, W), or (T, 1, 1) */
    int batch_rows; /* rows an input buffer holds when more than a pass's (micro-batches) */
    /* More than 1: the Adam moments are sharded over this many ranks, in
     * buckets of bucket_mb (comm.bucket_mb), this rank holding shard_rank's
     * pieces. */
    int shard_ranks, shard_rank;
    double bucket_mb;
} model_input;

/* Builds the model of cfg on `be` for images of in_shape (channels, height,
 * width) and up to max_rows rows per call. Parameters are zero until
 * model_init_params. */
model *model_build(const config *cfg, backend *be, const int in_shape[3], int max_rows);

/* The same, for training batches of up to train_rows rows and evaluation
 * batches of up to max_rows: the buffers only backward needs (gradients
 * of activations) are sized for the first. */
model *model_build_sized(const config *cfg, backend *be, const int in_shape[3], int train_rows,
                         int max_rows);

/* The same, for either kind of input. */
model *model_build_input(const config *cfg, backend *be, const model_input *in, int train_rows,
                         int max_rows);

/* Seeded initialization, identical on every rank and backend (init.c). */
/* The unit a language model's loss in bits is per: "byte" for a vocabulary
 * of at most 256 (byte-level tokens), else "token". */
const char *model_bits_unit(const model *m);

int model_init_params(model *m, uint64_t seed);

/* Forward over rows of m->x; train enables dropout. */
int model_forward(model *m, int rows, bool train);

/* Loss of the last forward against m->y: adds the rows' summed loss and
 * correct count to *loss_sum and *correct, each sample's the mean over its
 * positions. With grad, also starts backward: d loss / d logits, scaled by
 * `scale` (1 / global batch) and by 1 / positions. */
int model_loss(model *m, int rows, float scale, bool grad, double *loss_sum, double *correct);

/* Generation: position pos of row 0 through every layer (layer_ops.step),
 * the positions before it done by earlier steps or by a forward pass. */
int model_step(model *m, int pos);

/* Told during backward that gradients [from, n_params) are final. */
typedef int (*model_grads_ready)(void *ctx, size_t from);

/* Backward through every layer, writing m->grads; after each layer with
 * parameters, ready (when not NULL) hears how far the final part reaches. */
int model_backward_notify(model *m, int rows, model_grads_ready ready, void *ctx);

/* model_backward_notify with no one to notify. */
int model_backward(model *m, int rows);

/* A 64-bit FNV-1a hash of the parameters, both Adam moments and the state,
 * to check that every rank holds the same model; sharded moments, which
 * differ from rank to rank, are left out. */
int model_checksum(const model *m, uint64_t *sum);

/* Forward FLOPs of one sample through a layer (a multiply-add counts two),
 * and through the model. */
double model_layer_flops(const layer *l);
double model_flops_per_sample(const model *m);
/* Forward and backward, as computed: the figure for achieved FLOP/s. */
double model_train_flops_per_sample(const model *m);

/* A one-line sketch of the model: the widths of an MLP ("784-256-10"), or
 * the input and output shapes and the depth of anything else
 * ("1x28x28 -> 10 in 8 layers", "128 tokens -> 128x256 in 40 layers"). */
void model_shape_text(const model *m, char *buf, size_t size);

void model_free(model *m);

#endif
