/* tokenizer: loading a tokenizer.json (every refusal in one line naming
 * its field), encoding (merges in rank order, GPT-2's pattern, added
 * tokens, invalid UTF-8), decoding (whole and a token at a time), long
 * inputs and the cache. The tokenizers here are built in the test: all
 * 256 bytes, byte b's token with id b, then a few merges, so that the
 * expected ids can be worked out by hand. cli.tokenizer_parity checks
 * real ones against the tokenizers package. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer.h"
#include "testutil.h"
#include "util/err.h"

/* The byte-level alphabet's character for byte b, as UTF-8 into s. */
static void byte_char(int b, char s[3])
{
    int n = 0, cp = b;
    if (!((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) {
        cp = 256;
        for (int c = 0; c < b; c++)
            cp += !((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE);
    }
    if (cp < 0x80) {
        s[n++] = (char)cp;
    } else {
        s[n++] = (char)(0xC0 | cp >> 6);
        s[n++] = (char)(0x80 | (cp & 0x3F));
    }
    s[n] = '\0';
}

/* A growing string for the JSON under construction. */
typedef struct {
    char *s;
    size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = 2 * b->cap + (size_t)n + 64;
        b->s = realloc(b->s, b->cap);
        ck_assert_ptr_nonnull(b->s);
    }
}

/* A JSON string of the text of token s (in the byte alphabet already). */
static void put_str(sbuf *b, const char *s)
{
    put(b, "\"");
    for (; *s; s++)
        put(b, *s == '"' || *s == '\\' ? "\\%c" : "%c", *s);
    put(b, "\"");
}

/* Text in the byte alphabet: each byte of plain as its character. */
static const char *alpha(const char *plain)
{
    static char out[4][256];
    static int k;
    char *o = out[k = (k + 1) % 4];
    o[0] = '\0';
    for (const unsigned char *p = (const unsigned char *)plain; *p; p++) {
        char c[3];
        byte_char(*p, c);
        strcat(o, c);
    }
    return o;
}

/* The merges of the test tokenizer, as plain text, in rank order; merge i
 * makes token 256 + i. */
static const char *const merges[][2] = {
    {" ", "t"},           /* 256 " t" */
    {"h", "e"},           /* 257 "he" */
    {" t", "he"},         /* 258 " the" */
    {"a", "a"},           /* 259 "aa" */
    {"aa", "a"},          /* 260 "aaa" */
    {"i", "t"},           /* 261 "it" */
    {"'", "s"},           /* 262 "'s" */
    {"e", "r"},           /* 263 "er" */
    {"h", "er"},          /* 264 "her" */
    {"t", "her"},         /* 265 "ther" */
    {"\xE4", "\xBD"},     /* 266: the first two bytes of "你" */
    {"\xE4\xBD", "\xA0"}, /* 267: "你" */
};
enum { N_MERGES = sizeof merges / sizeof merges[0], N_VOCAB = 256 + N_MERGES };

/* Options of the JSON that tok_json writes; NULL fields take the defaults
 * a valid byte-level BPE has. */
typedef struct {
    const char *top;         /* more top-level fields, ", "-led */
    const char *pre;         /* pre_tokenizer's value */
    const char *model_extra; /* more model fields, ", "-led */
    const char *added;       /* added_tokens' value */
    int skip_byte;           /* a byte without a token: -1 none */
    bool legacy;             /* merges as "a b" */
} tok_spec;

static char *tok_json(const tok_spec *o)
{
    sbuf b = {0};
    put(&b, "{\"version\": \"1.0\", \"added_tokens\": %s, \"normalizer\": null,",
        o->added ? o->added : "[]");
    put(&b, "\"pre_tokenizer\": %s,",
        o->pre ? o->pre
               : "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, "
                 "\"use_regex\": true}");
    put(&b, "\"post_processor\": null, \"decoder\": {\"type\": \"ByteLevel\"}%s,",
        o->top ? o->top : "");
    put(&b, "\"model\": {\"type\": \"BPE\", \"dropout\": null%s, \"vocab\": {",
        o->model_extra ? o->model_extra : "");
    for (int i = 0; i < 256; i++) {
        char c[3];
        byte_char(i, c);
        if (i == o->skip_byte)
            continue;
        put_str(&b, c);
        put(&b, ": %d, ", i);
    }
    for (int i = 0; i < N_MERGES; i++) {
        char joined[16];
        snprintf(joined, sizeof joined, "%s%s", merges[i][0], merges[i][1]);
        put_str(&b, alpha(joined));
        put(&b, ": %d%s", 256 + i, i + 1 < N_MERGES ? ", " : "}, \"merges\": [");
    }
    for (int i = 0; i < N_MERGES; i++) {
        put(&b, i ? ", " : "");
        if (o->legacy) {
            char pair[32];
            snprintf(pair, sizeof pair, "%s %s", alpha(merges[i][0]), alpha(merges[i][1]));
            put_str(&b, pair);
        } else {
            put(&b, "[");
            put_str(&b, alpha(merges[i][0]));
            put(&b, ", ");
            put_str(&b, alpha(merges[i][1]));
            put(&b, "]");
        }
    }
    put(&b, "]}}");
    return b.s;
}

static const tok_spec plain_spec = {.skip_byte = -1};

static tokenizer *open_spec(const tok_spec *o)
{
    char *json = tok_json(o);
    tokenizer *t = tok_open_buffer(json, strlen(json), "test.json");
    free(json);
    return t;
}

/* The tokenizer with this spec is refused with one line that holds want. */
static void refused(const tok_spec *o, const char *want)
{
    err_clear();
    tokenizer *t = open_spec(o);
    ck_assert_msg(!t, "loaded, but should fail with '%s'", want);
    ck_assert_msg(strstr(err_msg(), want), "'%s' lacks '%s'", err_msg(), want);
    ck_assert_msg(!strchr(err_msg(), '\n'), "not one line: %s", err_msg());
    ck_assert_msg(!strncmp(err_msg(), "test.json: ", 11), "does not name the file: %s", err_msg());
}

/* Raw JSON is refused with want. */
static void refused_json(const char *json, const char *want)
{
    err_clear();
    ck_assert_ptr_null(tok_open_buffer(json, strlen(json), "test.json"));
    ck_assert_msg(strstr(err_msg(), want), "'%s' lacks '%s'", err_msg(), want);
}

START_TEST(refuses_the_envelope)
{
    refused_json("{\"model\": ", "test.json: not valid JSON: ");
    refused_json("[1, 2]", "test.json: not a tokenizer.json: an array at the top");
    refused(&(tok_spec){.skip_byte = -1, .top = ", \"version\": \"2.0\""},
            "version: \"2.0\" is not a version this reads");
    refused(&(tok_spec){.skip_byte = -1, .top = ", \"truncation\": {\"max_length\": 5}"},
            "truncation: an object is not implemented (null expected: it would cut the ids)");
    refused(&(tok_spec){.skip_byte = -1, .top = ", \"padding\": {}"},
            "padding: an object is not implemented");
}
END_TEST

START_TEST(refuses_other_stages)
{
    refused(&(tok_spec){.skip_byte = -1, .top = ", \"normalizer\": {\"type\": \"NFC\"}"},
            "normalizer: an object of type \"NFC\" is not implemented (null expected)");
    refused(&(tok_spec){.skip_byte = -1, .pre = "{\"type\": \"Whitespace\"}"},
            "pre_tokenizer: an object of type \"Whitespace\" is not implemented (ByteLevel "
            "expected)");
    refused(&(tok_spec){.skip_byte = -1, .pre = "null"},
            "pre_tokenizer: null is not implemented (ByteLevel expected)");
    refused(&(tok_spec){.skip_byte = -1,
                        .pre = "{\"type\": \"ByteLevel\", \"add_prefix_space\": true}"},
            "pre_tokenizer.add_prefix_space: true is not implemented (false expected)");
    refused(&(tok_spec){.skip_byte = -1, .pre = "{\"type\": \"ByteLevel\", \"use_regex\": false}"},
            "pre_tokenizer.use_regex: false is not implemented (true expected)");
    refused(&(tok_spec){.skip_byte = -1, .pre = "{\"type\": \"ByteLevel\", \"use_regex\": 1}"},
            "pre_tokenizer.use_regex: an integer (true or false expected)");
    refused(&(tok_spec){.skip_byte = -1,
                        .top = ", \"post_processor\": {\"type\": \"TemplateProcessing\"}"},
            "post_processor: an object of type \"TemplateProcessing\" is not implemented (null "
            "or ByteLevel expected)");
    refused(&(tok_spec){.skip_byte = -1, .top = ", \"decoder\": null"},
            "decoder: null is not implemented (ByteLevel expected)");
    /* a ByteLevel post-processor moves offsets only */
    tokenizer *t = open_spec(
        &(tok_spec){.skip_byte = -1, .top = ", \"post_processor\": {\"type\": \"ByteLevel\"}"});
    ck_assert_msg(t, "%s", err_msg());
    tok_close(t);
}
END_TEST

START_TEST(refuses_other_models)
{
    refused_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": "
                 "\"ByteLevel\"}, \"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}",
                 "test.json: model.type: \"WordPiece\" is not implemented (\"BPE\" expected)");
    refused_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": "
                 "\"ByteLevel\"}, \"model\": {\"vocab\": {}}}",
                 "model.type: missing (\"BPE\" expected)");
    refused_json("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": "
                 "\"ByteLevel\"}}",
                 "model: missing (an object expected)");
    refused(&(tok_spec){.skip_byte = -1, .model_extra = ", \"dropout\": 0.1"},
            "model.dropout: 0.1 is not implemented (null or 0: dropout makes the ids random "
            "expected)");
    refused(&(tok_spec){.skip_byte = -1, .model_extra = ", \"continuing_subword_prefix\": \"##\""},
            "model.continuing_subword_prefix: \"##\" is not implemented (null expected)");
    refused(&(tok_spec){.skip_byte = -1, .model_extra = ", \"end_of_word_suffix\": \"</w>\""},
            "model.end_of_word_suffix: \"</w>\" is not implemented");
    refused(&(tok_spec){.skip_byte = -1, .model_extra = ", \"byte_fallback\": true"},
            "model.byte_fallback: true is not implemented (false expected)");
    refused(&(tok_spec){.skip_byte = -1, .model_extra = ", \"unk_token\": 3"},
            "model.unk_token: an integer (a string or null expected)");
    /* what changes nothing is taken */
    tokenizer *t = open_spec(
        &(tok_spec){.skip_byte = -1,
                    .model_extra = ", \"dropout\": 0, \"unk_token\": \"<unk>\", "
                                   "\"continuing_subword_prefix\": \"\", \"fuse_unk\": true"});
    ck_assert_msg(t, "%s", err_msg());
    tok_close(t);
}
END_TEST

/* A JSON whose model is {BODY} after the BPE type, with the rest valid. */
static void refused_model(const char *body, const char *want)
{
    char json[4096];
    snprintf(json, sizeof json,
             "{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"decoder\": {\"type\": "
             "\"ByteLevel\"}, \"model\": {\"type\": \"BPE\"%s}}",
             body);
    refused_json(json, want);
}

START_TEST(refuses_bad_vocab_and_merges)
{
    refused_model(", \"merges\": []", "model.vocab: missing (an object of token: id expected)");
    refused_model(", \"vocab\": [], \"merges\": []",
                  "model.vocab: an array (an object of token: id expected)");
    refused_model(", \"vocab\": {\"a\": -1}, \"merges\": []",
                  "model.vocab[\"a\"]: -1 (an id from 0 to 16777215 expected)");
    refused_model(", \"vocab\": {\"a\": \"x\"}, \"merges\": []",
                  "model.vocab[\"a\"]: \"x\" (an id from 0 to 16777215 expected)");
    refused_model(", \"vocab\": {\"a\": 16777216}, \"merges\": []",
                  "model.vocab[\"a\"]: 16777216 (an id");
    refused_model(", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []",
                  "model.vocab[\"b\"]: id 0 is another token's too");
    refused(&(tok_spec){.skip_byte = '\n'},
            "model.vocab: no token for byte 0x0A (\"\xC4\x8A\"): a byte-level vocabulary has all "
            "256, or encoding would drop that byte");
    char json[8192];
    char *good = tok_json(&plain_spec);
    /* the merges replaced: by what is not an array, a bad element, ... */
    const char *cases[][2] = {
        {"{}", "model.merges: an object (an array expected)"},
        {"[3]", "model.merges[0]: an integer (a pair [\"A\", \"B\"] or a string \"A B\" expected)"},
        {"[[\"a\"]]", "model.merges[0]: an array (a pair"},
        {"[\"a b c\"]", "model.merges[0]: \"a b c\" is not two tokens split by one space"},
        {"[\"ab\"]", "model.merges[0]: \"ab\" is not two tokens split by one space"},
        {"[[\"h\", \"e\"], [\"zz\", \"e\"]]", "model.merges[1]: \"zz\" is not in model.vocab"},
        {"[[\"e\", \"h\"]]", "model.merges[0]: \"eh\" is not in model.vocab"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *m = strstr(good, "\"merges\": [");
        ck_assert_ptr_nonnull(m);
        snprintf(json, sizeof json, "%.*s\"merges\": %s}}", (int)(m - good), good, cases[i][0]);
        refused_json(json, cases[i][1]);
    }
    free(good);
}
END_TEST

START_TEST(refuses_bad_added_tokens)
{
    const char *eot = "{\"id\": %d, \"content\": \"<|endoftext|>\", \"special\": true, "
                      "\"normalized\": false%s}";
    char one[256], two[512];
    refused(&(tok_spec){.skip_byte = -1, .added = "{}"},
            "added_tokens: an object (an array expected)");
    refused(&(tok_spec){.skip_byte = -1, .added = "[{\"id\": 268}]"},
            "added_tokens[0]: an object (an object with a string content and an integer id "
            "expected)");
    const char *flags[] = {"lstrip", "rstrip", "single_word"};
    for (int i = 0; i < 3; i++) {
        char extra[64], flag[96];
        snprintf(extra, sizeof extra, ", \"%s\": true", flags[i]);
        snprintf(one, sizeof one, "[");
        snprintf(one + 1, sizeof one - 1, eot, N_VOCAB, extra);
        strcat(one, "]");
        snprintf(flag, sizeof flag, "added_tokens[0].%s: true is not implemented", flags[i]);
        refused(&(tok_spec){.skip_byte = -1, .added = one}, flag);
    }
    /* the vocab has N_VOCAB entries, so a new token's id is N_VOCAB */
    char want[256];
    snprintf(one, sizeof one, "[");
    snprintf(one + 1, sizeof one - 1, eot, 300, "");
    strcat(one, "]");
    snprintf(want, sizeof want,
             "added_tokens[0]: \"<|endoftext|>\" has id 300 here, but the tokenizers package "
             "gives it %d (the next id past model.vocab's entries)",
             N_VOCAB);
    refused(&(tok_spec){.skip_byte = -1, .added = one}, want);
    refused(&(tok_spec){.skip_byte = -1,
                        .added = "[{\"id\": 5, \"content\": \"he\", \"normalized\": true}]"},
            "added_tokens[0]: \"he\" has id 5 here, but the tokenizers package gives it 257 (its "
            "id in model.vocab)");
    snprintf(two, sizeof two, "[");
    snprintf(two + 1, sizeof two - 1, eot, N_VOCAB, "");
    strcat(two, ", ");
    snprintf(two + strlen(two), sizeof two - strlen(two), eot, N_VOCAB + 1, "");
    strcat(two, "]");
    refused(&(tok_spec){.skip_byte = -1, .added = two},
            "added_tokens[1]: \"<|endoftext|>\" is an added token twice");
    /* "Ġt" is the vocab's token 256, which stands for " t" */
    refused(&(tok_spec){.skip_byte = -1,
                        .added = "[{\"id\": 256, \"content\": \"\xC4\xA0t\", \"special\": true}]"},
            "added_tokens[0]: \"\xC4\xA0t\" is also model.vocab's token 256, which stands for "
            "other bytes");
}
END_TEST

START_TEST(refuses_files)
{
    char dir[256], path[300];
    tu_tmpdir(dir, sizeof dir);
    err_clear();
    snprintf(path, sizeof path, "%s/none.json", dir);
    ck_assert_ptr_null(tok_open(path));
    ck_assert_msg(strstr(err_msg(), path), "%s", err_msg());
    ck_assert_ptr_null(tok_open(dir));
    ck_assert_msg(strstr(err_msg(), "a directory"), "%s", err_msg());
    snprintf(path, sizeof path, "%s/t.json", dir);
    char *json = tok_json(&plain_spec);
    tu_write_file(path, json);
    free(json);
    tokenizer *t = tok_open(path);
    ck_assert_msg(t, "%s", err_msg());
    ck_assert_int_eq(tok_vocab_size(t), 256 + N_MERGES);
    tok_close(t);
    tu_rmtree(dir);
}
END_TEST

/* The ids of text (plain: no added tokens matched) are want[0..n). */
static void encodes(tokenizer *t, bool plain, const char *text, const int32_t *want, size_t n)
{
    tok_ids ids = {0};
    size_t len = strlen(text);
    int rc = plain ? tok_encode_plain(t, text, len, &ids) : tok_encode(t, text, len, &ids);
    ck_assert_msg(rc == 0, "%s", err_msg());
    char got[512] = "", exp[512] = "";
    for (size_t i = 0; i < ids.len; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), " %d", ids.ids[i]);
    for (size_t i = 0; i < n; i++)
        snprintf(exp + strlen(exp), sizeof exp - strlen(exp), " %d", want[i]);
    ck_assert_msg(!strcmp(got, exp), "'%s': ids%s, expected%s", text, got, exp);
    tok_ids_free(&ids);
}

#define ENCODES(t, text, ...)                                                                      \
    encodes(t, false, text, (const int32_t[]){__VA_ARGS__},                                        \
            sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))
#define ENCODES_PLAIN(t, text, ...)                                                                \
    encodes(t, true, text, (const int32_t[]){__VA_ARGS__},                                         \
            sizeof((const int32_t[]){__VA_ARGS__}) / sizeof(int32_t))

START_TEST(encodes_by_rank)
{
    tokenizer *t = open_spec(&plain_spec);
    ck_assert_msg(t, "%s", err_msg());
    ENCODES(t, "the", 't', 257);          /* "th" has no merge: t, he */
    ENCODES(t, " the", 258);              /* " t" + "he" */
    ENCODES(t, "the the", 't', 257, 258); /* two pre-tokens */
    /* a a a a: the leftmost "aa" first, then "a a" (rank 3) before "aa a" (4) */
    ENCODES(t, "aaaa", 259, 259);
    ENCODES(t, "aaaaa", 259, 260);           /* aa aa a -> aa aaa */
    ENCODES(t, "there", 't', 257, 'r', 'e'); /* "he" (rank 1) takes the e that "er" wanted */
    ENCODES(t, "\xE4\xBD\xA0", 267);         /* 你 */
    ENCODES(t, "\xE4\xBD", 266);             /* half of it, invalid UTF-8: a pre-token still */
    ENCODES(t, "it's", 261, 262);            /* it, 's */
    ENCODES(t, "IT'S", 'I', 'T', '\'', 'S'); /* no contraction in capitals */
    ENCODES(t, "a  b", 'a', ' ', ' ', 'b');  /* "a", " ", " b": the last space joins the word */
    ENCODES(t, "a  ", 'a', ' ', ' ');        /* the run at the end stays whole */
    tok_ids ids = {0};
    ck_assert_int_eq(tok_encode(t, "", 0, &ids), 0);
    ck_assert_uint_eq(ids.len, 0);
    tok_ids_free(&ids);
    tok_close(t);
}
END_TEST

/* Added tokens: <|endoftext|> (special, normalized false: matched first),
 * <|end (normalized false too: the longer match wins where both do), and
 * "her" (normalized true: matched in what the others leave). */
static tokenizer *open_added(void)
{
    char added[512];
    snprintf(added, sizeof added,
             "[{\"id\": %d, \"content\": \"<|endoftext|>\", \"special\": true, \"normalized\": "
             "false}, {\"id\": %d, \"content\": \"<|end\", \"special\": true, \"normalized\": "
             "false}, {\"id\": %d, \"content\": \"ther\", \"normalized\": true}]",
             N_VOCAB, N_VOCAB + 1, 256 + 9);
    tokenizer *t = open_spec(&(tok_spec){.skip_byte = -1, .added = added});
    ck_assert_msg(t, "%s", err_msg());
    return t;
}

START_TEST(encodes_added_tokens)
{
    tokenizer *t = open_added();
    const int eot = N_VOCAB, end = N_VOCAB + 1, ther = 256 + 9;
    ck_assert_int_eq(tok_added_id(t, "<|endoftext|>"), eot);
    ck_assert_int_eq(tok_added_id(t, "<|end"), end);
    ck_assert_int_eq(tok_added_id(t, "<|none|>"), -1);
    ck_assert_int_eq(tok_vocab_size(t), N_VOCAB + 2);
    ENCODES(t, "<|endoftext|>", eot);
    ENCODES(t, "a<|endoftext|> the", 'a', eot, 258);
    ENCODES(t, "<|end<|endoftext|>", end, eot);
    ENCODES(t, "<|endof", end, 'o', 'f');
    /* "ther" is found inside words, and the text around it is cut apart */
    ENCODES(t, "there", ther, 'e');
    ENCODES(t, "<|endoftext|>there", eot, ther, 'e');
    /* plain: all of it ordinary text */
    ENCODES_PLAIN(t, "<|end", '<', '|', 'e', 'n', 'd');
    ENCODES_PLAIN(t, "there", 't', 257, 'r', 'e');
    tok_close(t);
}
END_TEST

/* A deterministic byte string of n bytes: ASCII words, UTF-8 and bytes
 * that are not UTF-8, by seed. */
static void random_text(unsigned char *p, size_t n, uint32_t seed)
{
    static const char *const parts[] = {" the",
                                        "it's",
                                        "  ",
                                        "\n",
                                        "\xE4\xBD\xA0",
                                        "aaa",
                                        "<|end",
                                        "<|endoftext|>",
                                        "\xF0\x9F\x98\x80",
                                        "3.14",
                                        "\t"};
    uint32_t x = seed * 2654435761u + 1;
    size_t i = 0;
    while (i < n) {
        x = x * 1103515245u + 12345u;
        uint32_t r = x >> 16;
        if (r % 3 == 0) {
            p[i++] = (unsigned char)(r >> 3); /* any byte */
            continue;
        }
        const char *s = parts[(r >> 2) % (sizeof parts / sizeof parts[0])];
        for (size_t k = 0; s[k] && i < n; k++)
            p[i++] = (unsigned char)s[k];
    }
}

/* decode(encode(x)) is x, whole and a token at a time. */
static void round_trips(tokenizer *t, const unsigned char *x, size_t n, bool plain)
{
    tok_ids ids = {0};
    tok_bytes back = {0}, streamed = {0};
    int rc = plain ? tok_encode_plain(t, x, n, &ids) : tok_encode(t, x, n, &ids);
    ck_assert_msg(rc == 0, "%s", err_msg());
    ck_assert_int_eq(tok_decode(t, ids.ids, ids.len, &back), 0);
    ck_assert_uint_eq(back.len, n);
    ck_assert(n == 0 || memcmp(back.bytes, x, n) == 0);
    tok_stream s = {0};
    for (size_t i = 0; i < ids.len; i++)
        ck_assert_int_eq(tok_stream_put(t, &s, ids.ids[i], &streamed), 0);
    ck_assert_int_eq(tok_stream_end(&s, &streamed), 0);
    ck_assert_uint_eq(streamed.len, n);
    ck_assert(n == 0 || memcmp(streamed.bytes, x, n) == 0);
    tok_ids_free(&ids);
    tok_bytes_free(&back);
    tok_bytes_free(&streamed);
}

START_TEST(round_trips_any_bytes)
{
    tokenizer *t = open_added();
    unsigned char x[600];
    for (uint32_t seed = 0; seed < 400; seed++) {
        size_t n = seed % sizeof x;
        random_text(x, n, seed);
        round_trips(t, x, n, seed % 2);
    }
    tok_close(t);
}
END_TEST

START_TEST(decodes)
{
    tokenizer *t = open_added();
    tok_bytes out = {0};
    const int32_t ids[] = {258, N_VOCAB, 267, ' ', 'a'};
    ck_assert_int_eq(tok_decode(t, ids, 5, &out), 0);
    ck_assert_uint_eq(out.len, strlen(" the<|endoftext|>\xE4\xBD\xA0 a"));
    ck_assert(!memcmp(out.bytes, " the<|endoftext|>\xE4\xBD\xA0 a", out.len));
    const unsigned char *p;
    size_t len;
    ck_assert_int_eq(tok_token_bytes(t, 256, &p, &len), 0);
    ck_assert_uint_eq(len, 2);
    ck_assert(!memcmp(p, " t", 2));
    /* ids outside the vocabulary: refused, out as it was */
    const int32_t bad[] = {'a', N_VOCAB + 2};
    out.len = 0;
    ck_assert_int_eq(tok_decode(t, bad, 2, &out), -1);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_msg(strstr(err_msg(), "id 1 of 2: token id 270 is not in the tokenizer's vocabulary "
                                    "(270 ids)"),
                  "%s", err_msg());
    ck_assert_int_eq(tok_token_bytes(t, -1, &p, &len), -1);
    tok_bytes_free(&out);
    tok_close(t);
}
END_TEST

/* tok_stream_put of id appends exactly `want` (and holds the rest). */
static void streams(tokenizer *t, tok_stream *s, int32_t id, const char *want)
{
    tok_bytes out = {0};
    ck_assert_int_eq(tok_stream_put(t, s, id, &out), 0);
    ck_assert_msg(out.len == strlen(want) && !memcmp(out.bytes, want, out.len),
                  "id %d: %zu bytes out, expected %zu", id, out.len, strlen(want));
    tok_bytes_free(&out);
}

START_TEST(streams_whole_characters)
{
    tokenizer *t = open_spec(&plain_spec);
    tok_stream s = {0};
    streams(t, &s, 258, " the");
    streams(t, &s, 266, ""); /* E4 BD: 你 begun, held */
    ck_assert_int_eq(s.n, 2);
    streams(t, &s, 0xA0, "\xE4\xBD\xA0"); /* and finished */
    streams(t, &s, 0xF0, "");             /* a 4-byte character begun */
    streams(t, &s, 0x9F, "");
    streams(t, &s, 'x',
            "\xF0\x9F" /* broken off: out as they are */
            "x");
    streams(t, &s, 0xC0, "\xC0"); /* never a lead byte: not held */
    streams(t, &s, 0xED, "");
    streams(t, &s, 0xA0, "\xED\xA0"); /* a surrogate's start cannot become valid */
    streams(t, &s, 0xE4, "");
    tok_bytes out = {0};
    ck_assert_int_eq(tok_stream_end(&s, &out), 0); /* the end gives what is held */
    ck_assert_uint_eq(out.len, 1);
    ck_assert_int_eq(out.bytes[0], 0xE4);
    ck_assert_int_eq(s.n, 0);
    ck_assert_int_eq(tok_stream_put(t, &s, 100000, &out), -1);
    tok_bytes_free(&out);
    tok_close(t);
}
END_TEST

/* A long pre-token (past the cache's 255 bytes, through the heap), and
 * long runs of every kind, encode as their pieces would. */
START_TEST(long_inputs)
{
    tokenizer *t = open_spec(&plain_spec);
    size_t n = 1 << 18;
    unsigned char *x = malloc(n);
    ck_assert_ptr_nonnull(x);
    const char *fills[] = {"a", " ", "\n", "!", "7", "\xE4\xBD\xA0", "\xFF", "' "};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
        size_t k = strlen(fills[f]);
        for (size_t i = 0; i < n; i++)
            x[i] = (unsigned char)fills[f][i % k];
        round_trips(t, x, n - n % k, false);
    }
    /* 256 Ki a's: one pre-token, BPE'd in pairs */
    memset(x, 'a', n);
    tok_ids ids = {0};
    ck_assert_int_eq(tok_encode(t, x, n, &ids), 0);
    ck_assert_uint_eq(ids.len, n / 2);
    ck_assert_int_eq(ids.ids[0], 259);
    ck_assert_int_eq(ids.ids[n / 2 - 1], 259);
    tok_ids_free(&ids);
    free(x);
    tok_close(t);
}
END_TEST

/* Many distinct pre-tokens (more than the cache holds, so that it is
 * dropped and refilled): the same ids the second time, and the same as a
 * tokenizer that sees each alone. */
START_TEST(cache_refills)
{
    tokenizer *t = open_spec(&plain_spec), *fresh = open_spec(&plain_spec);
    size_t words = 150000, n = 0;
    char *text = malloc(words * 12);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < words; i++)
        n += (size_t)sprintf(text + n, " the%zxaa", i * 2654435761u % 1000003);
    tok_ids a = {0}, b = {0}, c = {0};
    ck_assert_int_eq(tok_encode(t, text, n, &a), 0);
    ck_assert_int_eq(tok_encode(t, text, n, &b), 0);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert(!memcmp(a.ids, b.ids, sizeof *a.ids * a.len));
    for (size_t at = 0, word = 0; at < n; word++) {
        size_t end = at + 1;
        while (end < n && text[end] != ' ')
            end++;
        ck_assert_int_eq(tok_encode(fresh, text + at, end - at, &c), 0);
        at = end;
    }
    ck_assert_uint_eq(c.len, a.len);
    ck_assert(!memcmp(a.ids, c.ids, sizeof *a.ids * a.len));
    tok_ids_free(&a);
    tok_ids_free(&b);
    tok_ids_free(&c);
    free(text);
    tok_close(t);
    tok_close(fresh);
}
END_TEST

START_TEST(other_forms)
{
    /* the older "a b" merges, and ignore_merges, which takes a whole
     * pre-token the vocab holds as it is: "ther" is one token then */
    tokenizer *t = open_spec(&(tok_spec){.skip_byte = -1, .legacy = true});
    ck_assert_msg(t, "%s", err_msg());
    ENCODES(t, " the", 258);
    ENCODES(t, "there", 't', 257, 'r', 'e');
    tok_close(t);
    t = open_spec(&(tok_spec){.skip_byte = -1, .model_extra = ", \"ignore_merges\": true"});
    ck_assert_msg(t, "%s", err_msg());
    ENCODES(t, "ther", 265);
    ENCODES(t, "there", 't', 257, 'r', 'e');
    tok_close(t);
}
END_TEST

START_TEST(splits)
{
    tokenizer *t = open_added();
    tok_offsets ends = {0};
    const char *text = "it's  <|endoftext|>\xFF\xFEok 42!";
    ck_assert_int_eq(tok_split(t, text, strlen(text), false, &ends), 0);
    /* it | 's | "  " | <|endoftext|> | FF FE | ok | " 42" | !: the spaces
     * end their text, cut at the added token, so they stay one run */
    const size_t want[] = {2, 4, 6, 19, 21, 23, 26, 27};
    ck_assert_uint_eq(ends.len, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < ends.len; i++)
        ck_assert_uint_eq(ends.at[i], want[i]);
    tok_offsets_free(&ends);
    tok_close(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tokenizer");
    TCase *load = tcase_create("load");
    tcase_add_test(load, refuses_the_envelope);
    tcase_add_test(load, refuses_other_stages);
    tcase_add_test(load, refuses_other_models);
    tcase_add_test(load, refuses_bad_vocab_and_merges);
    tcase_add_test(load, refuses_bad_added_tokens);
    tcase_add_test(load, refuses_files);
    suite_add_tcase(s, load);
    TCase *code = tcase_create("encode and decode");
    tcase_set_timeout(code, 120);
    tcase_add_test(code, encodes_by_rank);
    tcase_add_test(code, encodes_added_tokens);
    tcase_add_test(code, round_trips_any_bytes);
    tcase_add_test(code, decodes);
    tcase_add_test(code, streams_whole_characters);
    tcase_add_test(code, long_inputs);
    tcase_add_test(code, cache_refills);
    tcase_add_test(code, other_forms);
    tcase_add_test(code, splits);
    suite_add_tcase(s, code);
    return tu_run(s);
}
