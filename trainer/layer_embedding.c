/* embedding: a window of T token ids becomes T vectors of C features, the
 * token's row of wte (vocab x C) plus the position's row of wpe
 * (block_size x C), as GPT-2's input. It must be the model's first layer,
 * over token data; T, the data's window, may not pass block_size. Both
 * tables start N(0, 0.02^2), as GPT-2's. */
#include "trainer/layer.h"
#include "trainer/model.h"
#include "util/err.h"

enum { WTE, WPE };

static int embed_shape(layer *l, const layer_cfg *c, const int in[3])
{
    if (in[0] > c->block_size)
        return err_set("the data's windows of %d tokens are longer than its block_size, %d", in[0],
                       c->block_size);
    l->out_shape[0] = in[0];
    l->out_shape[1] = c->units;
    l->out_shape[2] = 1;
    l->out_rank = 2;
    layer_add_tensor(l, "wte", false, 2, (int[]){c->vocab, c->units});
    layer_add_tensor(l, "wpe", false, 2, (int[]){c->block_size, c->units});
    return 0;
}

static void embed_init(const layer *l, uint64_t seed, float *params, float *state)
{
    (void)state;
    for (int t = WTE; t <= WPE; t++)
        layer_init_normal(l, seed, t, layer_init_place(l, params, t), l->tensors[t].count, 0.02);
}

static int embed_forward(model *m, layer *l, const float *x, int rows, bool train)
{
    (void)train;
    backend *be = m->be;
    /* the model's input: token ids (model.h) */
    if (be->embed_forward(be, (const int32_t *)x, layer_tensor_at(m, l, WTE, false),
                          layer_tensor_at(m, l, WPE, false), l->y, rows, l->out_shape[0],
                          l->out_shape[1], l->cfg->vocab) < 0)
        return -1;
    l->out_ptr = l->y;
    return 0;
}

static int embed_backward(model *m, layer *l, const float *x, float *dx, int rows)
{
    (void)dx; /* token ids have no gradient */
    return m->be->embed_backward(m->be, (const int32_t *)x, l->grad,
                                 layer_tensor_at(m, l, WTE, true), layer_tensor_at(m, l, WPE, true),
                                 rows, l->out_shape[0], l->out_shape[1], l->cfg->vocab,
                                 l->cfg->tie); /* tied: the output layer wrote its share first */
}

static int embed_step(model *m, layer *l, const float *x, int pos)
{
    int c = l->out_shape[1];
    l->out_ptr = l->y;
    return m->be->embed_forward(m->be, (const int32_t *)x + pos, layer_tensor_at(m, l, WTE, false),
                                layer_tensor_at(m, l, WPE, false) + (size_t)pos * c,
                                l->y + (size_t)pos * c, 1, 1, c, l->cfg->vocab);
}

static const config_key embed_keys[] = {
    {"layer", "vocab", KT_INT, LAYER_FIELD(vocab), NULL, 1, 1 << 24, 0, NULL,
     "token ids are below this (256 for bytes)", true},
    LAYER_KEY_UNITS("features a position (C)"),
    {"layer", "block_size", KT_INT, LAYER_FIELD(block_size), NULL, 1, 1 << 20, 0, NULL,
     "learned positions: the longest window of tokens it takes", true},
    {"layer", "tie", KT_BOOL, LAYER_FIELD(tie), "false", 0, 0, 0, NULL,
     "the last layer (dense, units = vocab, in C) uses wte as its weight, stored once", false},
    {0},
};

const layer_ops layer_embedding_ops = {
    .name = "embedding",
    .summary = "token ids to vectors: wte[token] + wpe[position] (GPT-2's input); the first "
               "layer of a model of token data",
    .keys = embed_keys,
    .takes_tokens = true,
    .shape = embed_shape,
    .alloc = layer_alloc_output,
    .init = embed_init,
    .forward = embed_forward,
    .backward = embed_backward,
    .step = embed_step,
};
