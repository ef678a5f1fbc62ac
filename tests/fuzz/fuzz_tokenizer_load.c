/* fuzz_tokenizer_load: arbitrary bytes as a tokenizer.json, loaded from
 * memory with tok_open_buffer (data/tokenizer.h), as the checkpoint's copy
 * will be. A JSON the loader refuses must say so (a message, no tokenizer);
 * one it takes must then be whole: every id's bytes readable, and a text
 * of every kind (words, spaces, UTF-8, invalid bytes, its own added
 * tokens' texts) encoded, with and without added tokens, and decoded back
 * to itself (whole and through tok_stream). The seeds (corpus/
 * tokenizer_load/) are small trained and hand-made tokenizers, valid and
 * refused; the dictionary spells the fields. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer.h"
#include "fuzz_common.h"
#include "util/err.h"

static const char sample[] = "It's  the end\n\n of <|endoftext|>ther 42 \xE4\xBD\xA0\xE5\xA5\xBD "
                             "\xF0\x9F\x98\x80\xFF\xC0\xE4\xBD <|end";

static void die(const char *what)
{
    fprintf(stderr, "fuzz_tokenizer_load: %s (%s)\n", what, err_msg());
    abort();
}

/* decode(encode(x)) is x for x = text, whole and through tok_stream. */
static void round_trip(tokenizer *t, const char *text, size_t n, bool plain)
{
    tok_ids ids = {0};
    tok_bytes back = {0};
    if ((plain ? tok_encode_plain(t, text, n, &ids) : tok_encode(t, text, n, &ids)) < 0 ||
        tok_decode(t, ids.ids, ids.len, &back) < 0)
        die("a tokenizer it loaded cannot encode and decode");
    if (back.len != n || memcmp(back.bytes, text, n) != 0)
        die("decode(encode(x)) is not x");
    back.len = 0;
    tok_stream s = {0};
    for (size_t i = 0; i < ids.len; i++)
        if (tok_stream_put(t, &s, ids.ids[i], &back) < 0)
            die("tok_stream_put failed on an id encode gave");
    if (tok_stream_end(&s, &back) < 0 || back.len != n || memcmp(back.bytes, text, n) != 0)
        die("the stream decoder's bytes are not x");
    tok_ids_free(&ids);
    tok_bytes_free(&back);
}

static void exercise(tokenizer *t)
{
    for (int32_t id = 0; id < tok_vocab_size(t); id++) {
        const unsigned char *p;
        size_t len;
        tok_token_bytes(t, id, &p, &len); /* an id without a token is refused: fine */
    }
    round_trip(t, sample, sizeof sample - 1, false);
    round_trip(t, sample, sizeof sample - 1, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err_clear();
    tokenizer *t = tok_open_buffer((const char *)data, size, "fuzz.json");
    if (!t && !err_msg()[0])
        die("refused without a message");
    if (t) {
        exercise(t);
        tok_close(t);
    }
    err_clear();
    return 0;
}
