/* tokenizer_load: a tokenizer.json into a tokenizer (tokenizer.h says what
 * is read and what refused). The JSON is parsed whole by jansson; the
 * vocab's object is then the map from a token's text to its id while the
 * merges and added tokens are resolved, and is freed with the rest of the
 * document once the tokenizer holds its own tables.
 *
 * The order of the checks is the order a reader would look: the file's
 * envelope, the pipeline's stages, then the model. Each refusal names the
 * field as a path into the document ("model.merges[12]"). */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/tokenizer.h"
#include "data/tokenizer_impl.h"
#include "util/err.h"
#include "util/fsutil.h"

/* A tokenizer.json larger than this is not one (GPT-2's is 1.4 MiB, the
 * largest multilingual ones some tens of MiB). */
#define TOK_FILE_MAX ((size_t)256 << 20)

typedef struct {
    tokenizer *t;
    const char *what; /* the file, in messages */
    json_t *vocab;    /* model.vocab */
    size_t n_model;   /* its entries: the tokenizers package's vocab size */
    uint16_t byte_cp[256];
    int16_t cp_byte[512];
    unsigned char *scratch; /* a merge's two halves joined */
    size_t scratch_cap;
} loader;

/* "WHAT: FIELD: message". Returns -1. */
static int refuse(const loader *L, const char *field, const char *fmt, ...) ERR_PRINTF(3, 4);
static int refuse(const loader *L, const char *field, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set("%s: %s: %s", L->what, field, msg);
}

/* What a JSON value is, for messages. */
static const char *kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
        return "true";
    case JSON_FALSE:
        return "false";
    default:
        return "null";
    }
}

/* A stage's "type" (the normalizer's, the decoder's ...), "" when it has
 * none. */
static const char *type_of(const json_t *v)
{
    const char *s = json_string_value(json_object_get(v, "type"));
    return s ? s : "";
}

/* A value as a message shows it, into buf: a string quoted (its first 60
 * bytes), a number, an object with its type, else what it is. */
enum { SHOWN = 96 };
static const char *shown(const json_t *v, char buf[SHOWN])
{
    if (!v)
        snprintf(buf, SHOWN, "missing");
    else if (json_is_string(v))
        snprintf(buf, SHOWN, "\"%.60s\"", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, SHOWN, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, SHOWN, "%g", json_real_value(v));
    else if (json_is_object(v) && type_of(v)[0])
        snprintf(buf, SHOWN, "an object of type \"%.40s\"", type_of(v));
    else
        snprintf(buf, SHOWN, "%s", kind(v));
    return buf;
}

/* Reads the boolean obj.key into *out (absent or null: def). */
static int get_bool(const loader *L, const json_t *obj, const char *key, const char *field,
                    bool def, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    *out = def;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return refuse(L, field, "%s (true or false expected)", kind(v));
    *out = json_is_true(v);
    return 0;
}

/* obj.key must be false (absent or null too): true is an option that
 * would change the ids and is not implemented. */
static int want_false(const loader *L, const json_t *obj, const char *key, const char *field)
{
    bool b;
    if (get_bool(L, obj, key, field, false, &b) < 0)
        return -1;
    return b ? refuse(L, field, "true is not implemented (false expected)") : 0;
}

/* root.key must be null or absent: a stage or option not implemented. */
static int want_null(const loader *L, const json_t *root, const char *key, const char *why)
{
    const json_t *v = json_object_get(root, key);
    char buf[SHOWN];
    if (v && !json_is_null(v))
        return refuse(L, key, "%s is not implemented (null expected%s)", shown(v, buf), why);
    return 0;
}

/* A field whose value v (NULL: missing) is not what is implemented,
 * `expected`. Returns -1. */
static int unsupported(const loader *L, const char *field, const json_t *v, const char *expected)
{
    char buf[SHOWN];
    if (!v)
        return refuse(L, field, "missing (%s expected)", expected);
    return refuse(L, field, "%s is not implemented (%s expected)", shown(v, buf), expected);
}

/* root.key must be an object of type ByteLevel (or, when null_too, null
 * or absent); it is returned in *out. */
static int want_byte_level(const loader *L, const json_t *root, const char *key, bool null_too,
                           const json_t **out)
{
    const json_t *v = *out = json_object_get(root, key);
    if (null_too && (!v || json_is_null(v)))
        return 0;
    if (!json_is_object(v) || strcmp(type_of(v), "ByteLevel") != 0)
        return unsupported(L, key, v, null_too ? "null or ByteLevel" : "ByteLevel");
    return 0;
}

/* The file's envelope: version, truncation and padding. */
static int check_envelope(const loader *L, const json_t *root)
{
    const json_t *v = json_object_get(root, "version");
    char buf[SHOWN];
    if (v && (!json_is_string(v) || strcmp(json_string_value(v), "1.0") != 0))
        return refuse(L, "version", "%s is not a version this reads (\"1.0\" expected)",
                      shown(v, buf));
    return want_null(L, root, "truncation", ": it would cut the ids") < 0 ||
                   want_null(L, root, "padding", ": it would add ids") < 0
               ? -1
               : 0;
}

/* The pipeline around the model: no normalizer, the ByteLevel
 * pre-tokenizer as GPT-2 has it, a post-processor that adds no ids, the
 * ByteLevel decoder. */
static int check_stages(const loader *L, const json_t *root)
{
    const json_t *pre, *post, *dec;
    bool use_regex;
    if (want_null(L, root, "normalizer", "") < 0 ||
        want_byte_level(L, root, "pre_tokenizer", false, &pre) < 0 ||
        want_false(L, pre, "add_prefix_space", "pre_tokenizer.add_prefix_space") < 0 ||
        get_bool(L, pre, "use_regex", "pre_tokenizer.use_regex", true, &use_regex) < 0)
        return -1;
    if (!use_regex)
        return refuse(L, "pre_tokenizer.use_regex", "false is not implemented (true expected)");
    return want_byte_level(L, root, "post_processor", true, &post) < 0 ||
                   want_byte_level(L, root, "decoder", false, &dec) < 0
               ? -1
               : 0;
}

/* model.continuing_subword_prefix and end_of_word_suffix: null or "". */
static int want_no_affix(const loader *L, const json_t *model, const char *key, const char *field)
{
    const json_t *v = json_object_get(model, key);
    char buf[SHOWN];
    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        return 0;
    return refuse(L, field, "%s is not implemented (null expected)", shown(v, buf));
}

/* The model's options other than vocab and merges. */
static int check_model_options(loader *L, const json_t *model)
{
    const json_t *v = json_object_get(model, "type");
    if (!json_is_string(v) || strcmp(json_string_value(v), "BPE") != 0)
        return unsupported(L, "model.type", v, "\"BPE\"");
    v = json_object_get(model, "dropout");
    if (v && !json_is_null(v) && !(json_is_number(v) && json_number_value(v) == 0.0))
        return unsupported(L, "model.dropout", v, "null or 0: dropout makes the ids random");
    v = json_object_get(model, "unk_token"); /* never used: every byte has a token */
    if (v && !json_is_null(v) && !json_is_string(v))
        return refuse(L, "model.unk_token", "%s (a string or null expected)", kind(v));
    const char *prefix = "continuing_subword_prefix", *suffix = "end_of_word_suffix";
    bool fuse;
    if (want_no_affix(L, model, prefix, "model.continuing_subword_prefix") < 0 ||
        want_no_affix(L, model, suffix, "model.end_of_word_suffix") < 0 ||
        want_false(L, model, "byte_fallback", "model.byte_fallback") < 0 ||
        get_bool(L, model, "fuse_unk", "model.fuse_unk", false, &fuse) < 0 ||
        get_bool(L, model, "ignore_merges", "model.ignore_merges", false, &L->t->ignore_merges) < 0)
        return -1;
    return 0;
}

/* Adds n bytes to the tokenizer's text; *off is where they start. */
static int text_add(tokenizer *t, const void *p, size_t n, uint32_t *off)
{
    if (n > UINT32_MAX - 1 - t->text_len)
        return err_set("the tokens' text is over 4 GiB");
    if (t->text_len + n > t->text_cap) {
        size_t cap = t->text_cap ? t->text_cap : 1 << 16;
        while (cap < t->text_len + n)
            cap *= 2;
        unsigned char *grown = realloc(t->text, cap);
        if (!grown)
            return err_set("out of memory for the tokens' text (%zu bytes)", cap);
        t->text = grown;
        t->text_cap = cap;
    }
    memcpy(t->text + t->text_len, p, n);
    *off = (uint32_t)t->text_len;
    t->text_len += n;
    return 0;
}

/* The code point at p (valid UTF-8, as jansson's strings are), its length
 * in *len. */
static uint32_t utf8_at(const unsigned char *p, size_t *len)
{
    if (p[0] < 0x80) {
        *len = 1;
        return p[0];
    }
    if (p[0] < 0xE0) {
        *len = 2;
        return (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
    }
    if (p[0] < 0xF0) {
        *len = 3;
        return (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
    }
    *len = 4;
    return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
           (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
}

/* A token's text in the byte-level alphabet as the bytes it stands for,
 * into out (room for n): false when a character is outside the alphabet
 * (no pre-token can then be this token). */
static bool to_bytes(const loader *L, const char *s, size_t n, unsigned char *out, size_t *out_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t len;
        uint32_t cp = utf8_at(p + i, &len);
        if (cp >= 512 || L->cp_byte[cp] < 0)
            return false;
        out[k++] = (unsigned char)L->cp_byte[cp];
        i += len;
    }
    *out_len = k;
    return true;
}

static int scratch_fit(loader *L, size_t n)
{
    if (n <= L->scratch_cap)
        return 0;
    unsigned char *grown = realloc(L->scratch, n);
    if (!grown)
        return err_set("out of memory for a token of %zu bytes", n);
    L->scratch = grown;
    L->scratch_cap = n;
    return 0;
}

/* Makes t->tokens hold ids below n, the new ones without a token. */
static int tokens_fit(tokenizer *t, int32_t n)
{
    if (n <= t->vocab_size)
        return 0;
    tok_span *grown = realloc(t->tokens, sizeof *grown * (size_t)n);
    if (!grown)
        return err_set("out of memory for a vocabulary of %d ids", n);
    for (int32_t i = t->vocab_size; i < n; i++)
        grown[i] = (tok_span){0, TOK_NO_TOKEN};
    t->tokens = grown;
    t->vocab_size = n;
    return 0;
}

/* Every vocab entry's id is an integer below TOK_MAX_IDS; the largest
 * into *max. */
static int vocab_ids(const loader *L, int32_t *max)
{
    const char *key;
    size_t key_len;
    json_t *v;
    *max = -1;
    json_object_keylen_foreach(L->vocab, key, key_len, v)
    {
        (void)key_len;
        char buf[SHOWN];
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) >= TOK_MAX_IDS)
            return err_set("%s: model.vocab[\"%s\"]: %s (an id from 0 to %d expected)", L->what,
                           key, shown(v, buf), TOK_MAX_IDS - 1);
        if (json_integer_value(v) > *max)
            *max = (int32_t)json_integer_value(v);
    }
    return 0;
}

/* The vocab by bytes, for model.ignore_merges (tok_vocab_find). */
static void by_bytes_put(tokenizer *t, int32_t id, uint32_t off, uint32_t len)
{
    tok_vocab_entry *e = t->by_bytes;
    uint64_t i = tok_hash_bytes(t->text + off, len) & t->by_bytes_mask;
    while (e[i].id >= 0)
        i = (i + 1) & t->by_bytes_mask;
    e[i] = (tok_vocab_entry){id, off, len};
}

static int by_bytes_init(tokenizer *t, size_t n)
{
    size_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    tok_vocab_entry *e = malloc(sizeof *e * slots);
    if (!e)
        return err_set("out of memory for the vocab's table (%zu entries)", slots);
    for (size_t i = 0; i < slots; i++)
        e[i].id = -1;
    t->by_bytes = e;
    t->by_bytes_mask = slots - 1;
    return 0;
}

/* One vocab entry: its bytes into the text, its id's span. */
static int vocab_entry(loader *L, const char *key, size_t key_len, int32_t id)
{
    tokenizer *t = L->t;
    if (t->tokens[id].len != TOK_NO_TOKEN)
        return err_set("%s: model.vocab[\"%s\"]: id %d is another token's too", L->what, key, id);
    if (scratch_fit(L, key_len + 1) < 0)
        return -1;
    size_t n;
    bool bytes = to_bytes(L, key, key_len, L->scratch, &n);
    /* outside the alphabet: its text as it is, as the tokenizers
     * package's decoder gives it */
    const void *p = bytes ? (const void *)L->scratch : key;
    uint32_t off = 0;
    if (text_add(t, p, bytes ? n : key_len, &off) < 0)
        return -1;
    t->tokens[id] = (tok_span){off, (uint32_t)(bytes ? n : key_len)};
    if (bytes && t->ignore_merges)
        by_bytes_put(t, id, off, (uint32_t)n);
    return 0;
}

static int load_vocab(loader *L)
{
    if (!json_is_object(L->vocab))
        return refuse(L, "model.vocab", "%s (an object of token: id expected)",
                      L->vocab ? kind(L->vocab) : "missing");
    int32_t max;
    if (vocab_ids(L, &max) < 0 || tokens_fit(L->t, max + 1) < 0)
        return -1;
    L->n_model = json_object_size(L->vocab);
    if (L->t->ignore_merges && by_bytes_init(L->t, L->n_model) < 0)
        return -1;
    const char *key;
    size_t key_len;
    json_t *v;
    json_object_keylen_foreach(L->vocab, key, key_len, v)
    {
        if (vocab_entry(L, key, key_len, (int32_t)json_integer_value(v)) < 0)
            return -1;
    }
    return 0;
}

/* The id of the vocab's token `s` (n bytes), or -1. */
static int32_t vocab_id(const loader *L, const char *s, size_t n)
{
    const json_t *v = json_object_getn(L->vocab, s, n);
    return v ? (int32_t)json_integer_value(v) : -1;
}

/* Each byte's token: the one of its character in the alphabet. */
static int load_bytes(loader *L)
{
    for (int b = 0; b < 256; b++) {
        unsigned cp = L->byte_cp[b];
        char s[3];
        size_t n = 1;
        if (cp < 0x80) {
            s[0] = (char)cp;
        } else {
            s[0] = (char)(0xC0 | cp >> 6);
            s[1] = (char)(0x80 | (cp & 0x3F));
            n = 2;
        }
        s[n] = '\0';
        if ((L->t->byte_id[b] = vocab_id(L, s, n)) < 0)
            return refuse(L, "model.vocab",
                          "no token for byte 0x%02X (\"%s\"): a byte-level "
                          "vocabulary has all 256, or encoding would drop that byte",
                          b, s);
    }
    return 0;
}

/* Merge i's two halves: ["a", "b"], or the older "a b". */
static int merge_halves(const loader *L, const json_t *m, size_t i, const char **a, size_t *na,
                        const char **b, size_t *nb)
{
    char field[64];
    snprintf(field, sizeof field, "model.merges[%zu]", i);
    if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
        json_is_string(json_array_get(m, 1))) {
        *a = json_string_value(json_array_get(m, 0));
        *na = json_string_length(json_array_get(m, 0));
        *b = json_string_value(json_array_get(m, 1));
        *nb = json_string_length(json_array_get(m, 1));
        return 0;
    }
    if (!json_is_string(m))
        return refuse(L, field, "%s (a pair [\"A\", \"B\"] or a string \"A B\" expected)", kind(m));
    const char *s = json_string_value(m), *space = memchr(s, ' ', json_string_length(m));
    if (!space || memchr(space + 1, ' ', json_string_length(m) - (size_t)(space + 1 - s)))
        return refuse(L, field, "\"%s\" is not two tokens split by one space", s);
    *a = s;
    *na = (size_t)(space - s);
    *b = space + 1;
    *nb = json_string_length(m) - *na - 1;
    return 0;
}

/* One merge, of rank `rank`: its halves and their join must all be
 * tokens of the vocab. */
static int load_merge(loader *L, const json_t *m, size_t i, uint32_t rank)
{
    const char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    if (merge_halves(L, m, i, &a, &na, &b, &nb) < 0 || scratch_fit(L, na + nb + 1) < 0)
        return -1;
    memcpy(L->scratch, a, na);
    memcpy(L->scratch + na, b, nb);
    L->scratch[na + nb] = '\0';
    int32_t ia = vocab_id(L, a, na), ib = vocab_id(L, b, nb);
    int32_t ij = vocab_id(L, (const char *)L->scratch, na + nb);
    const char *missing = ia < 0 ? a : ib < 0 ? b : ij < 0 ? (const char *)L->scratch : NULL;
    size_t n_missing = ia < 0 ? na : ib < 0 ? nb : na + nb;
    if (missing)
        return err_set("%s: model.merges[%zu]: \"%.*s\" is not in model.vocab", L->what, i,
                       (int)n_missing, missing);
    tok_merges_put(&L->t->merges, ia, ib, rank, ij);
    return 0;
}

static int load_merges(loader *L, const json_t *merges)
{
    if (!json_is_array(merges))
        return refuse(L, "model.merges", "%s (an array expected)",
                      merges ? kind(merges) : "missing");
    if (tok_merges_init(&L->t->merges, json_array_size(merges)) < 0)
        return -1;
    uint32_t rank = 0;
    for (size_t i = 0; i < json_array_size(merges); i++) {
        const json_t *m = json_array_get(merges, i);
        /* the older form's header line, which the tokenizers package
         * skips without counting it as a rank */
        if (json_is_string(m) && strncmp(json_string_value(m), "#version", 8) == 0)
            continue;
        if (load_merge(L, m, i, rank++) < 0)
            return -1;
    }
    return 0;
}

/* The id the tokenizers package gives added token `content` when it
 * loads the file: the vocab's, else the next past the vocab's size. */
static int32_t added_id(const loader *L, const char *content, size_t n, int32_t *next)
{
    int32_t id = vocab_id(L, content, n);
    return id >= 0 ? id : (*next)++;
}

/* Whether an added token before this one has the same content. */
static bool added_twice(const tokenizer *t, const char *content, size_t n)
{
    for (int p = 0; p < TOK_PASSES; p++)
        for (int i = 0; i < t->added[p].n; i++) {
            const tok_added *a = &t->added[p].tokens[i];
            if (a->len == n && memcmp(t->text + a->off, content, n) == 0)
                return true;
        }
    return false;
}

/* added_tokens[i]'s options: only those that change nothing, or what
 * pass it is matched in. */
static int added_options(const loader *L, const json_t *a, size_t i, bool *normalized)
{
    char field[64];
    const char *off[] = {"single_word", "lstrip", "rstrip"};
    for (int k = 0; k < 3; k++) {
        snprintf(field, sizeof field, "added_tokens[%zu].%s", i, off[k]);
        if (want_false(L, a, off[k], field) < 0)
            return -1;
    }
    bool special;
    snprintf(field, sizeof field, "added_tokens[%zu].special", i);
    if (get_bool(L, a, "special", field, false, &special) < 0)
        return -1;
    snprintf(field, sizeof field, "added_tokens[%zu].normalized", i);
    return get_bool(L, a, "normalized", field, true, normalized);
}

static int added_push(tokenizer *t, int pass, uint32_t off, uint32_t len, int32_t id)
{
    tok_added_set *s = &t->added[pass];
    tok_added *grown = realloc(s->tokens, sizeof *grown * (size_t)(s->n + 1));
    if (!grown)
        return err_set("out of memory for the added tokens");
    s->tokens = grown;
    s->tokens[s->n++] = (tok_added){off, len, id};
    unsigned char first = t->text[off];
    if (!s->first[first]) {
        s->first[first] = true;
        s->only_byte = first;
        s->n_first++;
    }
    return 0;
}

/* The id of added token `s` (n bytes) whose entry says `stored`: the
 * tokenizers package's (added_id), which must be the same, must be below
 * TOK_MAX_IDS, and must not be another token's. */
static int added_id_checked(loader *L, const char *field, const char *s, size_t n,
                            json_int_t stored, int32_t *next, int32_t *id)
{
    bool in_vocab = vocab_id(L, s, n) >= 0;
    int32_t want = *id = added_id(L, s, n, next);
    if (stored != want)
        return refuse(
            L, field, "\"%s\" has id %lld here, but the tokenizers package gives it %d (%s)", s,
            (long long)stored, want,
            in_vocab ? "its id in model.vocab" : "the next id past model.vocab's entries");
    if (want >= TOK_MAX_IDS)
        return refuse(L, field, "id %d is past %d", want, TOK_MAX_IDS - 1);
    if (tokens_fit(L->t, want + 1) < 0)
        return -1;
    const tok_span *had = &L->t->tokens[want];
    if (!in_vocab && had->len != TOK_NO_TOKEN)
        return refuse(L, field, "\"%s\" takes id %d, which model.vocab gives to another token", s,
                      want);
    /* one id, two texts: decoding could give back only one of them */
    if (had->len != TOK_NO_TOKEN && (had->len != n || memcmp(L->t->text + had->off, s, n) != 0))
        return refuse(L, field,
                      "\"%s\" is also model.vocab's token %d, which stands for other bytes (its "
                      "characters are the byte alphabet's)",
                      s, want);
    return 0;
}

/* One added token: its id checked, its content the text that id decodes
 * to, and in the set of the pass that matches it. */
static int load_added_one(loader *L, const json_t *a, size_t i, int32_t *next)
{
    char field[64];
    snprintf(field, sizeof field, "added_tokens[%zu]", i);
    const json_t *c = json_object_get(a, "content"), *stored = json_object_get(a, "id");
    if (!json_is_object(a) || !json_is_string(c) || !json_is_integer(stored))
        return refuse(L, field, "%s (an object with a string content and an integer id expected)",
                      kind(a));
    bool normalized;
    if (added_options(L, a, i, &normalized) < 0)
        return -1;
    const char *s = json_string_value(c);
    size_t n = json_string_length(c);
    if (n == 0) /* the tokenizers package skips it */
        return 0;
    if (added_twice(L->t, s, n))
        return refuse(L, field, "\"%s\" is an added token twice", s);
    int32_t id;
    uint32_t off = 0;
    if (added_id_checked(L, field, s, n, json_integer_value(stored), next, &id) < 0 ||
        text_add(L->t, s, n, &off) < 0)
        return -1;
    L->t->tokens[id] = (tok_span){off, (uint32_t)n};
    return added_push(L->t, normalized ? TOK_PASS_NORMALIZED : TOK_PASS_RAW, off, (uint32_t)n, id);
}

static int load_added(loader *L, const json_t *added)
{
    if (!added || json_is_null(added))
        return 0;
    if (!json_is_array(added))
        return refuse(L, "added_tokens", "%s (an array expected)", kind(added));
    int32_t next = (int32_t)L->n_model;
    for (size_t i = 0; i < json_array_size(added); i++)
        if (load_added_one(L, json_array_get(added, i), i, &next) < 0)
            return -1;
    return 0;
}

static int load_model(loader *L, const json_t *root)
{
    const json_t *model = json_object_get(root, "model");
    if (!json_is_object(model))
        return refuse(L, "model", "%s (an object expected)", model ? kind(model) : "missing");
    L->vocab = json_object_get(model, "vocab");
    return check_model_options(L, model) < 0 || load_vocab(L) < 0 || load_bytes(L) < 0 ||
                   load_merges(L, json_object_get(model, "merges")) < 0
               ? -1
               : 0;
}

static int load_root(loader *L, const json_t *root)
{
    if (!json_is_object(root))
        return err_set("%s: not a tokenizer.json: %s at the top (an object expected)", L->what,
                       kind(root));
    return check_envelope(L, root) < 0 || check_stages(L, root) < 0 || load_model(L, root) < 0 ||
                   load_added(L, json_object_get(root, "added_tokens")) < 0
               ? -1
               : 0;
}

/* What encoding needs beyond the tables: the pattern, the cache. */
static int ready(tokenizer *t)
{
    return tok_pattern_compile(t) < 0 || tok_cache_init(&t->cache) < 0 ? -1 : 0;
}

tokenizer *tok_open_buffer(const char *json, size_t len, const char *what)
{
    loader L = {.what = what};
    tok_byte_alphabet(L.byte_cp, L.cp_byte);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        err_set("%s: not valid JSON: %s (line %d, column %d)", what, jerr.text, jerr.line,
                jerr.column);
        return NULL;
    }
    if (!(L.t = calloc(1, sizeof *L.t))) {
        err_set("out of memory for a tokenizer");
    } else if (load_root(&L, root) < 0 || ready(L.t) < 0) {
        tok_close(L.t);
        L.t = NULL;
    }
    json_decref(root);
    free(L.scratch);
    return L.t;
}

/* The whole of fd's regular file (size bytes) into a fresh buffer. */
static char *read_all(int fd, size_t size, const char *path)
{
    char *buf = malloc(size ? size : 1);
    if (!buf) {
        err_set("%s: out of memory for its %zu bytes", path, size);
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                err_set("%s: ended after %zu of its %zu bytes", path, got, size);
            else
                err_errno("read %s", path);
            free(buf);
            return NULL;
        }
        got += (size_t)n;
    }
    return buf;
}

tokenizer *tok_open(const char *path)
{
    struct stat st;
    int fd = fs_open_regular(path, &st);
    if (fd < 0)
        return NULL;
    if ((uint64_t)st.st_size > TOK_FILE_MAX) {
        close(fd);
        err_set("%s: %lld bytes is larger than a tokenizer.json this reads (256 MiB)", path,
                (long long)st.st_size);
        return NULL;
    }
    char *buf = read_all(fd, (size_t)st.st_size, path);
    close(fd);
    if (!buf)
        return NULL;
    tokenizer *t = tok_open_buffer(buf, (size_t)st.st_size, path);
    free(buf);
    return t;
}

void tok_close(tokenizer *t)
{
    if (!t)
        return;
    free(t->tokens);
    free(t->text);
    tok_merges_free(&t->merges);
    free(t->by_bytes);
    for (int p = 0; p < TOK_PASSES; p++)
        free(t->added[p].tokens);
    pcre2_match_data_free(t->md);
    for (int k = 0; k < TOK_RES; k++)
        pcre2_code_free(t->re[k]);
    free(t->sym);
    free(t->prev);
    free(t->next);
    free(t->heap);
    tok_cache_free(&t->cache);
    free(t);
}

int32_t tok_vocab_size(const tokenizer *t)
{
    return t->vocab_size;
}

int32_t tok_added_id(const tokenizer *t, const char *content)
{
    size_t n = strlen(content);
    for (int p = 0; p < TOK_PASSES; p++)
        for (int i = 0; i < t->added[p].n; i++) {
            const tok_added *a = &t->added[p].tokens[i];
            if (a->len == n && memcmp(t->text + a->off, content, n) == 0)
                return a->id;
        }
    return -1;
}
