/* fuzz_tokenizer_encode: arbitrary bytes encoded by a real tokenizer
 * (tokenizer_fortunes.json: byte-level BPE of 1,000 tokens trained on the
 * fortunes by the tokenizers package, with added tokens of both kinds) and
 * decoded back. The first byte of the input chooses: bit 0, whether added
 * tokens are matched (tok_encode) or not (tok_encode_plain); bit 1,
 * whether the text is encoded a second time on the warm cache. The rest
 * is the text. Checked: decode(encode(x)) == x, whole and through
 * tok_stream; the second encoding gives the same ids; tok_split's pieces
 * are in order, non-empty, and end at the end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer.h"
#include "fuzz_common.h"
#include "util/err.h"

static tokenizer *tok;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_tokenizer_encode: %s (%s)\n", what, err_msg());
    abort();
}

static void check_split(const unsigned char *x, size_t n, bool plain)
{
    tok_offsets ends = {0};
    if (tok_split(tok, x, n, plain, &ends) < 0)
        die("tok_split failed");
    size_t at = 0;
    for (size_t i = 0; i < ends.len; at = ends.at[i++])
        if (ends.at[i] <= at || ends.at[i] > n)
            die("tok_split's pieces are out of order, empty or past the end");
    if (at != n)
        die("tok_split's pieces do not end at the end");
    tok_offsets_free(&ends);
}

static void encode(const unsigned char *x, size_t n, bool plain, tok_ids *ids)
{
    ids->len = 0;
    if ((plain ? tok_encode_plain(tok, x, n, ids) : tok_encode(tok, x, n, ids)) < 0)
        die("encoding failed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tok && !(tok = tok_open(ACCEL_FUZZ_DIR "/tokenizer_fortunes.json")))
        die("cannot load the tokenizer");
    if (size < 1)
        return 0;
    bool plain = data[0] & 1, twice = data[0] & 2;
    const unsigned char *x = data + 1;
    size_t n = size - 1;
    tok_ids ids = {0}, again = {0};
    tok_bytes back = {0};
    encode(x, n, plain, &ids);
    if (tok_decode(tok, ids.ids, ids.len, &back) < 0 || back.len != n ||
        (n && memcmp(back.bytes, x, n) != 0))
        die("decode(encode(x)) is not x");
    back.len = 0;
    tok_stream s = {0};
    for (size_t i = 0; i < ids.len; i++)
        if (tok_stream_put(tok, &s, ids.ids[i], &back) < 0)
            die("tok_stream_put failed");
    if (tok_stream_end(&s, &back) < 0 || back.len != n || (n && memcmp(back.bytes, x, n) != 0))
        die("the stream decoder's bytes are not x");
    if (twice) {
        encode(x, n, plain, &again);
        if (again.len != ids.len || (ids.len && memcmp(again.ids, ids.ids, 4 * ids.len) != 0))
            die("a second encoding gave other ids");
    }
    check_split(x, n, plain);
    tok_ids_free(&ids);
    tok_ids_free(&again);
    tok_bytes_free(&back);
    return 0;
}
