/* tokenizer_decode: ids into bytes, all at once or a token at a time for
 * text printed as it is generated. A token's bytes are worked out when
 * the tokenizer is loaded (tokenizer_load.c), so decoding is copying. */
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_impl.h"
#include "util/err.h"

void tok_ids_free(tok_ids *a)
{
    free(a->ids);
    *a = (tok_ids){0};
}

void tok_offsets_free(tok_offsets *o)
{
    free(o->at);
    *o = (tok_offsets){0};
}

void tok_bytes_free(tok_bytes *b)
{
    free(b->bytes);
    *b = (tok_bytes){0};
}

static int bytes_reserve(tok_bytes *out, size_t more)
{
    if (out->cap - out->len >= more)
        return 0;
    if (more > SIZE_MAX / 2 - out->len)
        return err_set("too many bytes of text for memory");
    size_t cap = out->cap ? out->cap : 4096;
    while (cap < out->len + more)
        cap *= 2;
    unsigned char *grown = realloc(out->bytes, cap);
    if (!grown)
        return err_set("out of memory for %zu bytes of text", cap);
    out->bytes = grown;
    out->cap = cap;
    return 0;
}

static int append(tok_bytes *out, const void *p, size_t n)
{
    if (bytes_reserve(out, n) < 0)
        return -1;
    if (n > 0)
        memcpy(out->bytes + out->len, p, n);
    out->len += n;
    return 0;
}

int tok_token_bytes(const tokenizer *t, int32_t id, const unsigned char **bytes, size_t *len)
{
    if (id < 0 || id >= t->vocab_size || t->tokens[id].len == TOK_NO_TOKEN)
        return err_set("token id %d is not in the tokenizer's vocabulary (%d ids)", id,
                       t->vocab_size);
    *bytes = t->text + t->tokens[id].off;
    *len = t->tokens[id].len;
    return 0;
}

int tok_decode(const tokenizer *t, const int32_t *ids, size_t n, tok_bytes *out)
{
    size_t was = out->len;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = NULL;
        size_t len = 0;
        if (tok_token_bytes(t, ids[i], &p, &len) < 0 || append(out, p, len) < 0) {
            out->len = was;
            return err_prefix("id %zu of %zu", i, n);
        }
    }
    return 0;
}

/* The length of the UTF-8 character that byte c begins (0: c begins none:
 * a continuation byte, C0, C1, F5 and up). */
static int utf8_length(unsigned char c)
{
    return c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
}

/* Whether the k bytes at p (1 <= k < its length) begin a character that
 * more bytes can still complete: continuation bytes, the second within
 * the range its lead allows (no overlong form, surrogate or code point
 * past U+10FFFF). */
static bool utf8_can_continue(const unsigned char *p, size_t k)
{
    if (k > 1) {
        unsigned char lo = 0x80, hi = 0xBF;
        lo = p[0] == 0xE0 ? 0xA0 : p[0] == 0xF0 ? 0x90 : lo;
        hi = p[0] == 0xED ? 0x9F : p[0] == 0xF4 ? 0x8F : hi;
        if (p[1] < lo || p[1] > hi)
            return false;
    }
    for (size_t i = 2; i < k; i++)
        if ((p[i] & 0xC0) != 0x80)
            return false;
    return true;
}

/* How many of the last bytes of out, all of them from `from` on, are an
 * unfinished character: 0 to 3. */
static size_t partial_tail(const tok_bytes *out, size_t from)
{
    size_t end = out->len;
    for (size_t k = 1; k <= 3 && k <= end - from; k++) {
        const unsigned char *p = out->bytes + end - k;
        if ((*p & 0xC0) == 0x80) /* a continuation byte: its lead is further back */
            continue;
        size_t len = (size_t)utf8_length(*p);
        return len > k && utf8_can_continue(p, k) ? k : 0;
    }
    return 0;
}

int tok_stream_put(const tokenizer *t, tok_stream *s, int32_t id, tok_bytes *out)
{
    const unsigned char *p = NULL;
    size_t len = 0, from = out->len;
    if (tok_token_bytes(t, id, &p, &len) < 0 || append(out, s->held, (size_t)s->n) < 0 ||
        append(out, p, len) < 0) {
        out->len = from;
        return -1;
    }
    size_t k = partial_tail(out, from);
    memcpy(s->held, out->bytes + out->len - k, k);
    s->n = (int)k;
    out->len -= k;
    return 0;
}

int tok_stream_end(tok_stream *s, tok_bytes *out)
{
    if (append(out, s->held, (size_t)s->n) < 0)
        return -1;
    s->n = 0;
    return 0;
}
