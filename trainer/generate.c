#include "trainer/generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer.h"
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
    tokenizer *tz;   /* the checkpoint's tokenizer, or NULL: a token is a byte */
    int32_t eot;     /* its <|endoftext|>, where it has one, else -1 */
    tok_stream ts;   /* the characters a token left unfinished */
    tok_bytes text;  /* a token's whole characters, to write */
    char what[4200]; /* "checkpoint PATH's tokenizer" */
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

/* The checkpoint's tokenizer (data.tokenizer's, kept in it), where it
 * has one: its ids are what the model draws from. */
static int open_tokenizer(gen *g, const generate_options *o)
{
    char *json = NULL;
    size_t len = 0;
    if (ckpt_read_tokenizer(o->checkpoint, &json, &len) < 0)
        return -1;
    if (!json)
        return 0;
    snprintf(g->what, sizeof g->what, "checkpoint %s's tokenizer", o->checkpoint);
    g->tz = tok_open_buffer(json, len, g->what);
    free(json);
    if (!g->tz)
        return -1;
    int32_t n = tok_vocab_size(g->tz);
    if (n > g->vocab)
        return err_set("%s has %d ids, past the embedding's vocab, %d", g->what, n, g->vocab);
    g->vocab = n; /* only the tokenizer's ids are text */
    g->eot = tok_added_id(g->tz, "<|endoftext|>");
    return 0;
}

static int open_model(gen *g, const config *cfg, const generate_options *o)
{
    const layer_cfg *first = &cfg->layers[0];
    if (first->type != LAYER_EMBEDDING)
        return err_set("--generate needs a language model: the first layer must be an embedding");
    g->t = first->block_size;
    g->vocab = first->vocab;
    g->eot = -1;
    if (open_tokenizer(g, o) < 0)
        return -1;
    /* without a tokenizer the text is written a byte a token: a larger
     * vocabulary's ids (a subword tokenizer's) would need one */
    if (!g->tz && g->vocab > 256)
        return err_set("--generate writes a token as a byte, and this model's vocabulary is %d "
                       "tokens (more than 256 byte values): it cannot turn them into text, and "
                       "checkpoint %s holds no tokenizer (data.tokenizer) that could",
                       g->vocab, o->checkpoint);
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

/* The prompt's ids by the checkpoint's tokenizer (its last t), or with no
 * prompt the end token where the tokenizer has one (a new text begins, as
 * GPT-2's samples begin), else a newline's. */
static int start_ids(gen *g, const generate_options *o, FILE *note)
{
    const char *p = o->prompt && o->prompt[0] ? o->prompt : "\n";
    tok_ids ids = {0};
    if (!(o->prompt && o->prompt[0]) && g->eot >= 0) {
        if (tok_ids_reserve(&ids, 1) < 0)
            return -1;
        ids.ids[ids.len++] = g->eot;
    } else if (tok_encode(g->tz, p, strlen(p), &ids) < 0) {
        tok_ids_free(&ids);
        return err_prefix("--prompt");
    }
    size_t from = 0;
    if (ids.len > (size_t)g->t) {
        fprintf(note,
                "note: the prompt's %zu tokens are more than block_size, %d: it is cut to "
                "its last %d\n",
                ids.len, g->t, g->t);
        from = ids.len - (size_t)g->t;
    }
    g->n = (int)(ids.len - from);
    memcpy(g->tok, ids.ids + from, sizeof *g->tok * (size_t)g->n);
    tok_ids_free(&ids);
    return 0;
}

/* The prompt's bytes (its last t), or a newline. Each must be a token of
 * the vocabulary (a model of fewer than 256 tokens may not know them all).
 * With a tokenizer, its ids instead (start_ids). */
static int start(gen *g, const generate_options *o, FILE *note)
{
    if (g->tz)
        return start_ids(g, o, note);
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

static int write_text(gen *g, FILE *out)
{
    if (g->text.len && fwrite(g->text.bytes, 1, g->text.len, out) != g->text.len)
        return err_errno("writing the generated text");
    return fflush(out) == EOF ? err_errno("writing the generated text") : 0;
}

/* Writes token id's text as far as it makes whole UTF-8 characters; the
 * bytes of one the next token may finish wait in g->ts. */
static int put_token(gen *g, int32_t id, FILE *out)
{
    g->text.len = 0;
    if (tok_stream_put(g->tz, &g->ts, id, &g->text) < 0)
        return -1;
    return write_text(g, out);
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
        if (g->tz && id == g->eot)
            break; /* the text ends */
        if (g->tz && put_token(g, id, out) < 0)
            return -1;
        if (!g->tz && (fputc(id, out) == EOF || fflush(out) == EOF))
            return err_errno("writing the generated text");
        if (i + 1 < o->tokens && advance(g, id) < 0)
            return -1;
    }
    if (g->tz) { /* a character never finished: its bytes as they are */
        g->text.len = 0;
        if (tok_stream_end(&g->ts, &g->text) < 0 || write_text(g, out) < 0)
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
    tok_bytes_free(&g.text);
    tok_close(g.tz);
    model_free(g.m);
    backend_close(g.be);
    return rc;
}
