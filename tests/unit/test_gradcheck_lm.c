/* test_gradcheck_lm: the language-model layers (embedding, layernorm,
 * attention, dense at each position, gelu_tanh) and the per-position loss,
 * backward against central finite differences of the loss, as
 * test_gradcheck does for the MLP layers (its comment gives the step and
 * the tolerances). Models are read from config text, as users write them;
 * the data are rows of T token ids. Also: the causal mask (no position sees
 * a later token), and the configurations that cannot work. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "testutil.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "trainer/optim.h"
#include "util/err.h"

#define EPS   1e-2f
#define ROWS  3
#define T     5
#define VOCAB 11

static backend *be;
static char dir[256];
/* The configs of the models built, which must outlive them (layers keep
 * their layer_cfg). */
static config *cfgs[8];
static int n_cfgs;

static void setup(void)
{
    be = backend_cpu_open(1);
    ck_assert_ptr_nonnull(be);
    tu_tmpdir(dir, sizeof dir);
}

static void teardown(void)
{
    for (int i = 0; i < n_cfgs; i++) {
        config_free(cfgs[i]);
        free(cfgs[i]);
    }
    n_cfgs = 0;
    backend_close(be);
    tu_rmtree(dir);
}

/* The model of config text `layers` over rows of t tokens, or NULL with
 * the error set. */
static model *try_build_input(const char *layers, int t, bool tokens)
{
    const char *path = tu_path(dir, "m.ini");
    tu_write_file(path, layers);
    ck_assert_int_lt(n_cfgs, 8);
    config *cfg = cfgs[n_cfgs++] = malloc(sizeof *cfg);
    config_defaults(cfg);
    if (config_load(cfg, path) < 0 || config_validate(cfg) < 0)
        return NULL;
    model_input in = {.tokens = tokens, .shape = {t, 1, 1}};
    return model_build_input(cfg, be, &in, ROWS, ROWS);
}

static model *try_build(const char *layers, int t)
{
    return try_build_input(layers, t, true);
}

/* The model with seeded parameters, random biases and gains (so that their
 * gradients are tested away from the initial point), random tokens and
 * next-token targets. */
static model *build(const char *layers)
{
    model *m = try_build(layers, T);
    ck_assert_msg(m != NULL, "%s", err_msg());
    ck_assert_int_eq(model_init_params(m, 7), 0);
    float *p = malloc(sizeof(float) * m->n_params);
    ck_assert_int_eq(be->download(be, p, m->params, sizeof(float) * m->n_params), 0);
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        for (int t = 0; t < l->n_tensors; t++) {
            const layer_tensor *x = &l->tensors[t];
            if (x->rank == 1) /* biases and gains */
                tu_fill_uniform(p + x->offset, x->count, 0.5f, 1.5f, 100 + 10 * (uint64_t)i + t);
            else /* weights a size that makes the gradients useful */
                tu_fill_uniform(p + x->offset, x->count, -0.5f, 0.5f, 200 + 10 * (uint64_t)i + t);
        }
    }
    ck_assert_int_eq(be->upload(be, m->params, p, sizeof(float) * m->n_params), 0);
    free(p);
    int32_t tok[ROWS * T], next[ROWS * T];
    for (int i = 0; i < ROWS * T; i++) {
        tok[i] = (i * 7 + 3) % VOCAB;
        next[i] = (i * 5 + 1) % VOCAB;
    }
    ck_assert_int_eq(be->upload(be, m->x, tok, sizeof tok), 0);
    ck_assert_int_eq(be->upload(be, m->y, next, sizeof next), 0);
    return m;
}

static double loss_at(model *m)
{
    double loss = 0.0, correct = 0.0;
    ck_assert_int_eq(model_forward(m, ROWS, true), 0);
    ck_assert_int_eq(model_loss(m, ROWS, 1.0f / ROWS, false, &loss, &correct), 0);
    return loss / ROWS;
}

/* Checks every parameter's gradient against central differences. */
static void check(const char *what, const char *layers)
{
    model *m = build(layers);
    m->seed = 5, m->step = 2, m->first_row = 1;
    ck_assert_int_eq(m->positions, T);
    ck_assert_int_eq(m->classes, VOCAB);
    size_t n = m->n_params;
    float *g = malloc(sizeof(float) * n), *h = malloc(sizeof(float) * n);
    for (int pass = 0; pass < 2; pass++) { /* backward overwrites, never adds */
        double loss = 0.0, correct = 0.0;
        ck_assert_int_eq(model_forward(m, ROWS, true), 0);
        ck_assert_int_eq(model_loss(m, ROWS, 1.0f / ROWS, true, &loss, &correct), 0);
        ck_assert_msg(model_backward(m, ROWS) == 0, "%s", err_msg());
    }
    ck_assert_int_eq(be->download(be, g, m->grads, sizeof(float) * n), 0);
    ck_assert_int_eq(be->download(be, h, m->params, sizeof(float) * n), 0);
    double diff = 0.0, norm = 0.0;
    for (size_t i = 0; i < n; i++) {
        float orig = h[i];
        h[i] = orig + EPS;
        ck_assert_int_eq(be->upload(be, m->params, h, sizeof(float) * n), 0);
        double up = loss_at(m);
        h[i] = orig - EPS;
        ck_assert_int_eq(be->upload(be, m->params, h, sizeof(float) * n), 0);
        double down = loss_at(m);
        h[i] = orig;
        ck_assert_int_eq(be->upload(be, m->params, h, sizeof(float) * n), 0);
        double fd = (up - down) / ((double)(orig + EPS) - (double)(orig - EPS));
        ck_assert_msg(fabs(g[i] - fd) <= 2e-4 + 1e-2 * fabs(fd),
                      "%s: parameter %zu: backward %.7g, finite difference %.7g", what, i, g[i],
                      fd);
        diff += (g[i] - fd) * (g[i] - fd);
        norm += fd * fd;
    }
    ck_assert_msg(norm > 1e-6, "%s: gradient is ~0", what);
    ck_assert_msg(sqrt(diff / norm) < 1e-3, "%s: relative error %g", what, sqrt(diff / norm));
    free(g), free(h);
    model_free(m);
}

#define EMBED "[layer]\ntype = embedding\nvocab = 11\nunits = 8\nblock_size = 6\n"
#define HEAD  "[layer]\ntype = dense\nunits = 11\n"

START_TEST(embedding_and_dense_at_each_position)
{
    check("embedding-dense", EMBED HEAD);
}
END_TEST

START_TEST(layernorm)
{
    check("embedding-layernorm-dense", EMBED "[layer]\ntype = layernorm\n" HEAD);
}
END_TEST

START_TEST(attention)
{
    check("embedding-attention-dense", EMBED "[layer]\ntype = attention\nheads = 2\n" HEAD);
}
END_TEST

/* The weights' dropout: its mask a pure function of (seed, step, position). */
START_TEST(attention_dropout)
{
    check("attention dropout", EMBED "[layer]\ntype = attention\nheads = 4\ndropout = 0.3\n" HEAD);
}
END_TEST

/* A pre-LN transformer block, GPT-2's, with its two residuals. */
START_TEST(transformer_block)
{
    check("block", EMBED "[layer]\ntype = layernorm\n"
                         "[layer]\ntype = attention\nheads = 2\n"
                         "[layer]\ntype = residual\nfrom = -3\n"
                         "[layer]\ntype = layernorm\n"
                         "[layer]\ntype = dense\nunits = 32\nactivation = gelu_tanh\n"
                         "[layer]\ntype = dense\nunits = 8\n"
                         "[layer]\ntype = residual\nfrom = -4\n"
                         "[layer]\ntype = layernorm\n" HEAD);
}
END_TEST

/* Changing the token at position p changes no logit before p. */
START_TEST(causal)
{
    model *m = build(EMBED "[layer]\ntype = attention\nheads = 2\n" HEAD);
    size_t n = (size_t)ROWS * T * VOCAB;
    float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
    ck_assert_int_eq(model_forward(m, ROWS, false), 0);
    const layer *last = &m->layers[m->n_layers - 1];
    ck_assert_int_eq(be->download(be, a, last->out_ptr, sizeof(float) * n), 0);
    int32_t tok[ROWS * T];
    ck_assert_int_eq(be->download(be, tok, m->x, sizeof tok), 0);
    const int p = 3;
    tok[T + p] = (tok[T + p] + 1) % VOCAB; /* row 1 */
    ck_assert_int_eq(be->upload(be, m->x, tok, sizeof tok), 0);
    ck_assert_int_eq(model_forward(m, ROWS, false), 0);
    ck_assert_int_eq(be->download(be, b, last->out_ptr, sizeof(float) * n), 0);
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < T; t++) {
            bool same = true;
            for (int v = 0; v < VOCAB; v++)
                same = same &&
                       a[((size_t)r * T + t) * VOCAB + v] == b[((size_t)r * T + t) * VOCAB + v];
            ck_assert_msg(same == (r != 1 || t < p), "row %d position %d", r, t);
        }
    free(a), free(b);
    model_free(m);
}
END_TEST

static void refused(const char *layers, int t, const char *what);

/* Generation's cache: stepping one position at a time through every layer
 * (attention reading the keys and values of the positions before) gives
 * the logits a forward pass over the whole window gives. */
START_TEST(step_equals_forward)
{
    model *m = build(EMBED "[layer]\ntype = layernorm\n"
                           "[layer]\ntype = attention\nheads = 2\ndropout = 0.5\n"
                           "[layer]\ntype = dropout\nrate = 0.5\n"
                           "[layer]\ntype = residual\nfrom = -4\n"
                           "[layer]\ntype = dense\nunits = 16\nactivation = gelu_tanh\n"
                           "[layer]\ntype = dense\nunits = 8\n"
                           "[layer]\ntype = residual\nfrom = -3\n" HEAD);
    const layer *last = &m->layers[m->n_layers - 1];
    size_t n = (size_t)T * VOCAB;
    float *full = malloc(sizeof(float) * n), *stepped = malloc(sizeof(float) * n);
    ck_assert_int_eq(model_forward(m, 1, false), 0);
    ck_assert_int_eq(be->download(be, full, last->out_ptr, sizeof(float) * n), 0);
    /* the forward's buffers scrambled, so that only the steps can fill them */
    ck_assert_int_eq(model_forward(m, ROWS, true), 0);
    for (int pos = 0; pos < T; pos++) {
        ck_assert_msg(model_step(m, pos) == 0, "%s", err_msg());
        ck_assert_int_eq(be->download(be, stepped + (size_t)pos * VOCAB,
                                      last->out_ptr + (size_t)pos * VOCAB, sizeof(float) * VOCAB),
                         0);
    }
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(full[i] - stepped[i]) <= 1e-5f * (1 + fabsf(full[i])),
                      "logit %zu (position %zu): forward %.8g, steps %.8g", i, i / VOCAB, full[i],
                      stepped[i]);
    free(full), free(stepped);
    model_free(m);
}
END_TEST

/* tie = true: the output layer's weight is wte, so its gradient is the sum
 * of both uses, and the tensor is counted and stored once. */
START_TEST(tied_output)
{
    const char *tied = "[layer]\ntype = embedding\nvocab = 11\nunits = 8\nblock_size = 6\n"
                       "tie = true\n"
                       "[layer]\ntype = layernorm\n"
                       "[layer]\ntype = dense\nunits = 11\nbias = false\n";
    check("tied", tied);
    model *m = build(tied);
    ck_assert_uint_eq(m->n_trained, 11 * 8 + 6 * 8 + 8 + 8);
    ck_assert_int_eq(m->layers[2].n_tensors, 0);
    ck_assert_ptr_eq(m->layers[2].w, m->params + m->layers[0].tensors[0].offset);
    model_free(m);
    refused("[layer]\ntype = embedding\nvocab = 11\nunits = 8\nblock_size = 6\ntie = true\n"
            "[layer]\ntype = dense\nunits = 12\n",
            T, "its weight is layer0's wte (tie = true), (11, 8), but it maps 8 features to 12");
}
END_TEST

/* init = gpt2: N(0, 0.02), and the projections a residual adds (attention's
 * c_proj, the MLP's second layer) scaled by 1 / sqrt(4 residual layers). */
START_TEST(gpt2_init)
{
    model *m = try_build("[layer]\ntype = embedding\nvocab = 11\nunits = 64\nblock_size = 6\n"
                         "[repeat]\nname = h\ncount = 2\n"
                         "[layer]\nname = attn\ntype = attention\nheads = 4\n"
                         "[layer]\ntype = residual\nfrom = -2\n"
                         "[layer]\nname = fc\ntype = dense\nunits = 256\ninit = gpt2\n"
                         "[layer]\nname = proj\ntype = dense\nunits = 64\ninit = gpt2\n"
                         "[layer]\ntype = residual\nfrom = -3\n"
                         "[end]\n" HEAD,
                         T);
    ck_assert_msg(m != NULL, "%s", err_msg());
    ck_assert_int_eq(model_init_params(m, 11), 0);
    float *p = malloc(sizeof(float) * m->n_params);
    ck_assert_int_eq(be->download(be, p, m->params, sizeof(float) * m->n_params), 0);
    struct {
        int layer, tensor;
        double want;
    } cases[] = {{1, 0, 0.02}, {1, 2, 0.01}, {3, 0, 0.02}, {4, 0, 0.01}, {9, 0, 0.01}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const layer_tensor *x = &m->layers[cases[c].layer].tensors[cases[c].tensor];
        double sum = 0.0, sq = 0.0;
        for (size_t i = 0; i < x->count; i++) {
            sum += p[x->offset + i];
            sq += (double)p[x->offset + i] * p[x->offset + i];
        }
        double mean = sum / x->count, sd = sqrt(sq / x->count - mean * mean);
        ck_assert_msg(fabs(sd / cases[c].want - 1) < 0.05 && fabs(mean) < 0.1 * cases[c].want,
                      "%s %s: mean %g, sd %g, want sd %g", m->layers[cases[c].layer].name, x->name,
                      mean, sd, cases[c].want);
    }
    free(p);
    model_free(m);
}
END_TEST

/* optimizer.decay = matrices: AdamW shrinks the weights and embeddings, not
 * the biases and layer norm gains (with no gradient, only the decay moves
 * a value). */
START_TEST(decay_matrices_only)
{
    model *m = build(EMBED "[layer]\ntype = layernorm\n" HEAD);
    config *cfg = cfgs[n_cfgs - 1];
    cfg->optim_type = OPTIM_ADAMW;
    cfg->weight_decay = 0.5;
    cfg->decay = DECAY_MATRICES;
    size_t n = m->n_params;
    float *before = malloc(sizeof(float) * n), *after = malloc(sizeof(float) * n);
    ck_assert_int_eq(be->download(be, before, m->params, sizeof(float) * n), 0);
    float *zero = calloc(n, sizeof(float));
    ck_assert_int_eq(be->upload(be, m->grads, zero, sizeof(float) * n), 0);
    ck_assert_int_eq(optim_apply(m, cfg, 0, 0.1, 0.0), 0);
    ck_assert_int_eq(be->download(be, after, m->params, sizeof(float) * n), 0);
    for (int i = 0; i < m->n_layers; i++)
        for (int t = 0; t < m->layers[i].n_tensors; t++) {
            const layer_tensor *x = &m->layers[i].tensors[t];
            float factor = x->rank >= 2 ? 1.0f - 0.1f * 0.5f : 1.0f;
            for (size_t k = x->offset; k < x->offset + x->count; k++)
                ck_assert_msg(after[k] == before[k] * factor, "%s %s[%zu]: %g -> %g",
                              m->layers[i].name, x->name, k - x->offset, before[k], after[k]);
        }
    free(before), free(after), free(zero);
    model_free(m);
}
END_TEST

static void refused(const char *layers, int t, const char *what)
{
    ck_assert_ptr_null(try_build(layers, t));
    ck_assert_msg(strstr(err_msg(), what) != NULL, "'%s' not in '%s'", what, err_msg());
}

START_TEST(bad_models)
{
    refused(EMBED HEAD, 7, "windows of 7 tokens are longer than its block_size, 6");
    refused(EMBED "[layer]\ntype = attention\nheads = 3\n" HEAD, T,
            "heads = 3 does not divide the 8 features");
    refused(EMBED "[layer]\ntype = conv2d\nfilters = 2\nsize = 1\n" HEAD, T,
            "a conv2d layer takes an image (C, H, W)");
    refused(EMBED "[layer]\ntype = batchnorm\n" HEAD, T, "a batchnorm layer takes an image");
    refused(HEAD, T, "the data are token ids, which only an embedding layer takes");
    ck_assert_ptr_null(try_build_input("[layer]\ntype = dense\nunits = 8\n" EMBED HEAD, T, false));
    ck_assert_ptr_nonnull(strstr(err_msg(), "an embedding takes token ids: it must be the first"));
    /* a token at or past the vocabulary: one line, not a read out of bounds */
    model *m = build(EMBED HEAD);
    int32_t tok[ROWS * T] = {0};
    tok[4] = VOCAB;
    ck_assert_int_eq(be->upload(be, m->x, tok, sizeof tok), 0);
    ck_assert_int_eq(model_forward(m, ROWS, false), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "token 11 at position 4 of row 0 is not below the "
                                            "vocabulary of 11"));
    model_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradcheck_lm");
    TCase *tc = tcase_create("lm");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, embedding_and_dense_at_each_position);
    tcase_add_test(tc, layernorm);
    tcase_add_test(tc, attention);
    tcase_add_test(tc, attention_dropout);
    tcase_add_test(tc, transformer_block);
    tcase_add_test(tc, causal);
    tcase_add_test(tc, bad_models);
    tcase_add_test(tc, tied_output);
    tcase_add_test(tc, step_equals_forward);
    tcase_add_test(tc, gpt2_init);
    tcase_add_test(tc, decay_matrices_only);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
