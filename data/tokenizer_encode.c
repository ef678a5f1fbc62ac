/* tokenizer_encode: text into ids, in the tokenizers package's order of
 * work: the added tokens are found first (those with normalized false,
 * then the others in the text between them), then GPT-2's pattern cuts
 * the rest into pre-tokens, and each pre-token is BPE-encoded
 * (tokenizer_bpe.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_impl.h"
#include "data/tokenizer_unicode.h"
#include "util/err.h"

/* \s of the tokenizers package's Oniguruma: Unicode's White_Space. PCRE2's
 * own \s adds U+180E (in \h) under UCP, and without UCP is ASCII only, so
 * it is spelled out. */
#define TOK_WS                                                                                     \
    "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}"  \
    "\\x{205F}\\x{3000}"

/* GPT-2's pre-tokenizing pattern, with the insides of the classes of
 * letters L and numbers N: contractions, letters, digits, other symbols
 * (each optionally after one space), then whitespace, the last run of
 * which (when not at the end) is left to join the word after it. (The
 * contractions share their apostrophe: none is a prefix of another, so
 * the first that matches is the one GPT-2's 's|'t|'re|... takes.) */
#define TOK_PATTERN(L, N)                                                                          \
    "'(?:[sdmt]|ll|ve|re)| ?[" L "]+| ?[" N "]+| ?[^" TOK_WS L N "]+|[" TOK_WS "]+(?![^" TOK_WS    \
    "])|[" TOK_WS "]+"

/* The exact pattern takes \p{L} and \p{N} as the tokenizers package's
 * Unicode 16 has them: PCRE2's, and those its older tables lack
 * (tokenizer_unicode.h). Those forty-odd ranges make it some 1.5 times
 * slower, so text without any of their code points (nearly all text: they
 * are Unicode 15 and 16's additions) takes the fast pattern, PCRE2's
 * classes alone, which cuts it the same; the third pattern finds them
 * (its first bytes are few, so PCRE2 skips to them). */
static const char *const tok_patterns[TOK_RES] = {
    [TOK_RE_EXACT] = TOK_PATTERN("\\p{L}" TOK_NEWER_L, "\\p{N}" TOK_NEWER_N),
    [TOK_RE_FAST] = TOK_PATTERN("\\p{L}", "\\p{N}"),
    [TOK_RE_NEWER] = "[" TOK_NEWER_L TOK_NEWER_N "]",
};

/* A call of PCRE2 costs some 200 instructions beside the matching, as much
 * as the matching of a word, so one call finds up to TOK_BATCH pre-tokens:
 * the pattern P is run as (P)(?:(P)(?:(P)...)?)?, each group a pre-token.
 * Each optional group ends the match where it fails, never sending the
 * engine back into the groups before it, so each group matches what a
 * fresh search from its start would: the same cuts as one call each. */
static char *batched(const char *p)
{
    size_t n = strlen(p);
    char *b = malloc(TOK_BATCH * (n + 8) + 1);
    if (!b)
        return NULL;
    char *at = b;
    for (int i = 0; i < TOK_BATCH; i++)
        at += sprintf(at, "%s%s)", i ? "(?:(" : "(", p);
    for (int i = 1; i < TOK_BATCH; i++)
        at += sprintf(at, ")?");
    return b;
}

static int compile(tokenizer *t, int k)
{
    char *p = k == TOK_RE_NEWER ? NULL : batched(tok_patterns[k]);
    if (k != TOK_RE_NEWER && !p)
        return err_set("out of memory for the pre-tokenizer's pattern");
    int code;
    PCRE2_SIZE at;
    /* MATCH_INVALID_UTF: an invalid sequence matches nothing (each run of
     * them becomes a pre-token between matches) rather than failing the
     * match, and the subject needs no validity check first */
    t->re[k] = pcre2_compile((PCRE2_SPTR)(p ? p : tok_patterns[k]), PCRE2_ZERO_TERMINATED,
                             PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
    free(p);
    if (!t->re[k]) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return err_set("PCRE2 cannot compile the pre-tokenizer's pattern (at %zu): %s", (size_t)at,
                       (const char *)msg);
    }
    /* the JIT is some ten times the interpreter's speed; where the machine
     * has none, the interpreter gives the same matches */
    t->jit[k] = pcre2_jit_compile(t->re[k], PCRE2_JIT_COMPLETE) == 0;
    return 0;
}

int tok_pattern_compile(tokenizer *t)
{
    for (int k = 0; k < TOK_RES; k++)
        if (compile(t, k) < 0)
            return -1;
    if (!(t->md = pcre2_match_data_create(TOK_BATCH + 1, NULL)))
        return err_set("out of memory for PCRE2's match data");
    return 0;
}

/* The first match of pattern k in the n bytes at s from pos: the number
 * of its groups and itself (> 0), the match in t->md; 0, none; or -1 with
 * the message set. The JIT's stack (32 KiB) should hold any match of
 * these patterns; if one ever does not, the interpreter, whose frames are
 * on the heap, takes it. */
static int match(tokenizer *t, int k, const unsigned char *s, size_t n, size_t pos)
{
    int rc = t->jit[k] ? pcre2_jit_match(t->re[k], s, n, pos, 0, t->md, NULL)
                       : PCRE2_ERROR_JIT_STACKLIMIT;
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
        rc = pcre2_match(t->re[k], s, n, pos, PCRE2_NO_JIT, t->md, NULL);
    if (rc > 0 || rc == PCRE2_ERROR_NOMATCH)
        return rc > 0 ? rc : 0;
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    return err_set("the pre-tokenizer's pattern failed at byte %zu of %zu: %s", pos, n,
                   (const char *)msg);
}

/* tok_split's record of a piece that ends at `end`. */
static int split_end(tokenizer *t, const unsigned char *end)
{
    tok_offsets *o = t->split;
    if (o->len == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 1024;
        size_t *grown = cap < SIZE_MAX / sizeof *grown ? realloc(o->at, sizeof *grown * cap) : NULL;
        if (!grown)
            return err_set("out of memory for %zu offsets", cap);
        o->at = grown;
        o->cap = cap;
    }
    o->at[o->len++] = (size_t)(end - t->split_text);
    return 0;
}

/* A pre-token of n bytes (none when n is 0). */
static int piece(tokenizer *t, const unsigned char *p, size_t n, tok_ids *out)
{
    if (n == 0)
        return 0;
    return t->split ? split_end(t, p + n) : tok_bpe_piece(t, p, n, out);
}

/* Added token a, found at p. */
static int added(tokenizer *t, const tok_added *a, const unsigned char *p, tok_ids *out)
{
    if (t->split)
        return split_end(t, p + a->len);
    if (tok_ids_reserve(out, 1) < 0)
        return -1;
    out->ids[out->len++] = a->id;
    return 0;
}

/* Ordinary text: each match of the pattern is a pre-token, and so is each
 * run of bytes between two (invalid UTF-8, which no part matches). */
static int pretokenize(tokenizer *t, const unsigned char *s, size_t n, tok_ids *out)
{
    int rc = n > 0 ? match(t, TOK_RE_NEWER, s, n, 0) : 0;
    if (rc < 0)
        return -1;
    int k = rc ? TOK_RE_EXACT : TOK_RE_FAST;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(t->md);
    for (size_t pos = 0; pos < n; pos = ov[1]) {
        if ((rc = match(t, k, s, n, pos)) <= 0)
            return rc < 0 ? -1 : piece(t, s + pos, n - pos, out);
        if (piece(t, s + pos, ov[0] - pos, out) < 0)
            return -1;
        for (int g = 1; g < rc; g++)
            if (piece(t, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g], out) < 0)
                return -1;
    }
    return 0;
}

/* The first byte at or after i that begins an added token of set, or n. */
static size_t next_candidate(const tok_added_set *set, const unsigned char *s, size_t n, size_t i)
{
    if (set->n_first == 1) {
        const unsigned char *c = memchr(s + i, set->only_byte, n - i);
        return c ? (size_t)(c - s) : n;
    }
    while (i < n && !set->first[s[i]])
        i++;
    return i;
}

/* The longest added token of set that the n bytes at s begin with, or
 * NULL. */
static const tok_added *longest_at(const tokenizer *t, const tok_added_set *set,
                                   const unsigned char *s, size_t n)
{
    const tok_added *best = NULL;
    for (int i = 0; i < set->n; i++) {
        const tok_added *a = &set->tokens[i];
        if (a->len <= n && (!best || a->len > best->len) &&
            memcmp(s, t->text + a->off, a->len) == 0)
            best = a;
    }
    return best;
}

/* The n bytes at s at matching pass `pass`: the pass's added tokens, each
 * the leftmost then longest match, and the text between them on to the
 * next pass; after the last pass, the pattern. */
static int encode_pass(tokenizer *t, const unsigned char *s, size_t n, int pass, tok_ids *out)
{
    if (pass == TOK_PASSES)
        return pretokenize(t, s, n, out);
    const tok_added_set *set = &t->added[pass];
    size_t start = 0;
    for (size_t i = set->n ? next_candidate(set, s, n, 0) : n; i < n;
         i = next_candidate(set, s, n, i)) {
        const tok_added *a = longest_at(t, set, s + i, n - i);
        if (!a) {
            i++;
            continue;
        }
        if (encode_pass(t, s + start, i - start, pass + 1, out) < 0 || added(t, a, s + i, out) < 0)
            return -1;
        start = i += a->len;
    }
    return encode_pass(t, s + start, n - start, pass + 1, out);
}

int tok_encode(tokenizer *t, const void *text, size_t len, tok_ids *out)
{
    size_t was = out->len;
    if (encode_pass(t, text, len, TOK_PASS_RAW, out) < 0) {
        out->len = was;
        return -1;
    }
    return 0;
}

int tok_encode_plain(tokenizer *t, const void *text, size_t len, tok_ids *out)
{
    size_t was = out->len;
    if (pretokenize(t, text, len, out) < 0) {
        out->len = was;
        return -1;
    }
    return 0;
}

int tok_split(tokenizer *t, const void *text, size_t len, bool plain, tok_offsets *ends)
{
    size_t was = ends->len;
    t->split = ends;
    t->split_text = text;
    int rc =
        plain ? pretokenize(t, text, len, NULL) : encode_pass(t, text, len, TOK_PASS_RAW, NULL);
    t->split = NULL;
    if (rc < 0)
        ends->len = was;
    return rc;
}
