#include "trainer/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "trainer/checkpoint.h"
#include "trainer/model.h"
#include "util/err.h"
#include "util/rng.h"

typedef struct {
    backend *be;
    model *m;
    int t, vocab;
    int32_t *tok; /* the window */
    int n;        /* tokens in it */
    float *logits;
} gen;

static int by_value_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}

/* The model's distribution at one position into a token: logits (vocab of
 * them, overwritten) by temperature and top_k, u uniform in [0, 1). */
static int pick(float *logits, int vocab, double temperature, int top_k, double u)
{
    int best = 0;
    for (int i = 1; i < vocab; i++)
        best = logits[i] > logits[best] ? i : best;
    if (temperature <= 0.0)
        return best;
    float cut = -INFINITY; /* the top_k-th largest */
    if (top_k > 0 && top_k < vocab) {
        float *sorted = malloc(sizeof *sorted * (size_t)vocab);
        if (!sorted)
            return best;
        memcpy(sorted, logits, sizeof *sorted * (size_t)vocab);
        qsort(sorted, (size_t)vocab, sizeof *sorted, by_value_desc);
        cut = sorted[top_k - 1];
        free(sorted);
    }
    double sum = 0.0, max = logits[best];
    for (int i = 0; i < vocab; i++) {
        double p = logits[i] >= cut ? exp((logits[i] - max) / temperature) : 0.0;
        logits[i] = (float)p;
        sum += p;
    }
    double at = u * sum, run = 0.0;
    for (int i = 0; i < vocab; i++) {
        run += logits[i];
        if (logits[i] > 0 && at < run)
            return i;
    }
    return best;
}

backend_options generate_backend_options(const config *cfg)
{
    return (backend_options){.device = (device_kind)cfg->device,
                             .threads = cfg->threads,
                             .precision = (precision_kind)cfg->precision,
                             .deterministic = cfg->deterministic,
                             .local_rank = 0,
                             .local_size = 1};
}

static int open_model(gen *g, const config *cfg, const generate_options *o)
{
    const layer_cfg *first = &cfg->layers[0];
    if (first->type != LAYER_EMBEDDING)
        return err_set("--generate needs a language model: the first layer must be an embedding");
    g->t = first->block_size;
    g->vocab = first->vocab;
    /* the text is written a byte a token: a larger vocabulary's ids (a
     * subword tokenizer's) would need that tokenizer to become text */
    if (g->vocab > 256)
        return err_set("--generate writes a token as a byte, and this model's vocabulary is %d "
                       "tokens (more than 256 byte values): it cannot turn them into text",
                       g->vocab);
    /* run.device's note (auto without a usable GPU) is not told: stdout
     * carries the text, stderr an error in one line, and where it ran
     * changes only the rounding */
    const char *where;
    backend_options bo = generate_backend_options(cfg);
    if (!(g->be = backend_open(&bo, &where)))
        return -1;
    model_input in = {.tokens = true, .shape = {g->t, 1, 1}};
    if (!(g->m = model_build_input(cfg, g->be, &in, 1, 1)) ||
        ckpt_load_params(o->checkpoint, g->m) < 0)
        return -1;
    if (g->m->positions != g->t || g->m->classes < g->vocab)
        return err_set("--generate needs the last layer to give a token's logits at every "
                       "position");
    g->tok = calloc((size_t)g->t, sizeof *g->tok);
    g->logits = malloc(sizeof *g->logits * (size_t)g->m->classes);
    return g->tok && g->logits ? 0 : err_set("out of host memory for generation");
}

/* The prompt's bytes (its last t), or a newline. Each must be a token of
 * the vocabulary (a model of fewer than 256 tokens may not know them all). */
static int start(gen *g, const generate_options *o, FILE *note)
{
    const char *p = o->prompt && o->prompt[0] ? o->prompt : "\n";
    size_t len = strlen(p);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] >= g->vocab)
            return err_set("--prompt: byte %zu is 0x%02X, past this model's vocabulary of %d "
                           "tokens (bytes 0x00 to 0x%02X)",
                           i, (unsigned char)p[i], g->vocab, g->vocab - 1);
    if (len > (size_t)g->t) {
        fprintf(note,
                "note: the prompt's %zu bytes are more than block_size, %d: it is cut to "
                "its last %d\n",
                len, g->t, g->t);
        p += len - (size_t)g->t;
        len = (size_t)g->t;
    }
    for (size_t i = 0; i < len; i++)
        g->tok[i] = (unsigned char)p[i];
    g->n = (int)len;
    return 0;
}

/* The logits at position pos of the last forward or step. */
static int logits_at(gen *g, int pos)
{
    const layer *last = &g->m->layers[g->m->n_layers - 1];
    int v = g->m->classes;
    return g->be->download(g->be, g->logits, last->out_ptr + (size_t)pos * v, sizeof(float) * v);
}

/* A forward pass over the window: every position's keys and values. */
static int prefill(gen *g)
{
    backend *be = g->be;
    if (be->upload(be, g->m->x, g->tok, sizeof *g->tok * (size_t)g->t) < 0 ||
        model_forward(g->m, 1, false) < 0)
        return -1;
    return logits_at(g, g->n - 1);
}

/* Appends token id and readies the logits after it. */
static int advance(gen *g, int id)
{
    if (g->n == g->t) { /* full: keep the last half, and run it again */
        int keep = g->t / 2;
        memmove(g->tok, g->tok + g->n - keep, sizeof *g->tok * (size_t)keep);
        memset(g->tok + keep, 0, sizeof *g->tok * (size_t)(g->t - keep));
        g->n = keep;
        g->tok[g->n++] = id;
        return prefill(g);
    }
    g->tok[g->n++] = id;
    int32_t *x = (int32_t *)g->m->x; /* token ids (model.h) */
    if (g->be->upload(g->be, x + g->n - 1, &g->tok[g->n - 1], sizeof *x) < 0 ||
        model_step(g->m, g->n - 1) < 0)
        return -1;
    return logits_at(g, g->n - 1);
}

static int produce(gen *g, const generate_options *o, FILE *out, FILE *note)
{
    if (start(g, o, note) < 0 || prefill(g) < 0)
        return -1;
    for (int i = 0; i < o->tokens; i++) {
        double u = rng_uniform(o->seed, RNG_STREAM_GENERATE, 0, (uint64_t)i);
        /* an output layer wider than the vocabulary (untied) has logits for
         * ids no text holds: only the vocabulary's are drawn from */
        int id = pick(g->logits, g->vocab, o->temperature, o->top_k, u);
        if (fputc(id, out) == EOF || fflush(out) == EOF)
            return err_errno("writing the generated text");
        if (i + 1 < o->tokens && advance(g, id) < 0)
            return -1;
    }
    return fputc('\n', out) == EOF ? err_errno("writing the generated text") : 0;
}

int generate_run(const config *cfg, const generate_options *o, FILE *out, FILE *note)
{
    gen g = {0};
    int rc = open_model(&g, cfg, o);
    if (rc == 0)
        rc = produce(&g, o, out, note);
    free(g.tok);
    free(g.logits);
    model_free(g.m);
    backend_close(g.be);
    return rc;
}
