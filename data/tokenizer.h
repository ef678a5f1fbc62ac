/* tokenizer: Hugging Face's byte-level BPE, as a tokenizer.json holds it
 * (GPT-2's own tokenizer, and what the tokenizers package trains with a
 * ByteLevel pre-tokenizer): loads one, encodes bytes into token ids as the
 * tokenizers package does, token for token, and decodes ids into bytes.
 *
 * What is read: model.type "BPE" with its vocab and merges (either form:
 * ["a", "b"] pairs, or the older "a b" strings), dropout null or 0,
 * ignore_merges; a ByteLevel pre_tokenizer (add_prefix_space false,
 * use_regex true) and decoder; post_processor null or ByteLevel (it moves
 * offsets only); added_tokens, matched in the text as the tokenizers
 * package matches them (those with normalized false first, then the
 * others in what is left, each time the leftmost match and the longest
 * there). Anything else that would change the ids or the bytes (another
 * model, a normalizer, another pre-tokenizer or decoder, add_prefix_space,
 * continuing_subword_prefix, byte_fallback, an added token's lstrip,
 * rstrip or single_word, truncation, padding) is refused in one line that
 * names the field. Every one of the 256 bytes must have its token in
 * model.vocab (the tokenizers package drops a byte without one; refusing
 * keeps decode(encode(x)) == x for any x).
 *
 * The pre-tokenizer is GPT-2's pattern, through PCRE2 (JIT-compiled where
 * the machine allows), with \s and \S spelled as the set of Unicode's
 * White_Space property, which is what the tokenizers package's regex
 * engine (Oniguruma) takes them for; \p{L} and \p{N} are PCRE2's.
 *
 * Invalid UTF-8: the tokenizers package takes only strings, so only valid
 * UTF-8 has a reference. Here an invalid sequence (as Python's decoder
 * defines it: a stray continuation byte, a truncated or overlong
 * sequence, a surrogate, past U+10FFFF) matches no part of the pattern,
 * and each run of bytes between two matches is a pre-token of its own,
 * encoded from its bytes like any other: nothing is lost or replaced, and
 * decode(encode(x)) == x for any bytes.
 *
 * Ids: an added token takes the id the tokenizers package gives it when it
 * loads the file (the model's id for a token the vocab holds, else the
 * next past the vocab's size); a file whose added_tokens[i].id differs is
 * refused rather than encoded otherwise than it says. Ids are below 2^24.
 *
 * Decoding gives a model token's bytes (its byte-level characters mapped
 * back; a token holding a character outside that alphabet, which encoding
 * never makes, gives its UTF-8 as the tokenizers package does) and an
 * added token's content as written. So decode(encode(x)) == x always.
 * (The tokenizers package maps an added token's characters through the
 * byte alphabet too when all of them are in it: "<|endoftext|>" decodes
 * the same either way, but an added "Ġx" would come back " x" there.)
 *
 * Threads: encoding keeps a cache of pre-tokens already encoded and
 * scratch buffers in the tokenizer, so one tokenizer encodes on one thread
 * at a time (open one per thread). Decoding only reads it.
 *
 * Errors: every function that can fail records one line with err_set()
 * and returns -1 (or NULL). */
#ifndef ACCEL_TOKENIZER_H
#define ACCEL_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tokenizer tokenizer;

/* Ids are below this. */
#define TOK_MAX_IDS (1 << 24)

/* A growing array of ids, which the encoders append to: zero it before
 * first use, free it with tok_ids_free. Reuse it between calls (set len to
 * 0) to encode without allocating. */
typedef struct {
    int32_t *ids;
    size_t len, cap;
} tok_ids;

/* A growing array of bytes, which the decoders append to; as tok_ids. */
typedef struct {
    unsigned char *bytes;
    size_t len, cap;
} tok_bytes;

/* Offsets into a text, which tok_split appends to; as tok_ids. */
typedef struct {
    size_t *at;
    size_t len, cap;
} tok_offsets;

void tok_offsets_free(tok_offsets *o);

/* Makes room for `more` ids past a->len (for callers that append ids of
 * their own, as generation does). */
int tok_ids_reserve(tok_ids *a, size_t more);

void tok_ids_free(tok_ids *a);
void tok_bytes_free(tok_bytes *b);

/* Loads the tokenizer.json at path (a regular file, at most 256 MiB);
 * messages name the path. */
tokenizer *tok_open(const char *path);

/* Loads a tokenizer.json's text from memory (len bytes, no terminating NUL
 * needed; not kept after the call): the checkpoint keeps the file's text
 * verbatim. `what` names it in messages ("ckpt.h5's tokenizer"). */
tokenizer *tok_open_buffer(const char *json, size_t len, const char *what);

void tok_close(tokenizer *t);

/* One past the largest id, model's or added: the rows an embedding needs. */
int32_t tok_vocab_size(const tokenizer *t);

/* The id of the added token whose content is `content` ("<|endoftext|>"),
 * or -1 when there is none. */
int32_t tok_added_id(const tokenizer *t, const char *content);

/* Appends the ids of text's len bytes to out, added tokens matched where
 * the text holds them, as the tokenizers package's encode does. */
int tok_encode(tokenizer *t, const void *text, size_t len, tok_ids *out);

/* The same without matching added tokens: the text is all ordinary text
 * ("<|endoftext|>" in it is encoded as the characters it is made of), as
 * tiktoken's encode_ordinary. */
int tok_encode_plain(tokenizer *t, const void *text, size_t len, tok_ids *out);

/* Where tok_encode (plain: tok_encode_plain) cuts text before the BPE:
 * appends to ends the offset at which each piece ends (an added token, a
 * match of the pattern, or a run of invalid UTF-8 between two matches).
 * For tests of the pre-tokenizer, and for lining ids up with the text. */
int tok_split(tokenizer *t, const void *text, size_t len, bool plain, tok_offsets *ends);

/* The bytes of token `id` (valid as long as t is open), or -1 when id is no
 * token of t. */
int tok_token_bytes(const tokenizer *t, int32_t id, const unsigned char **bytes, size_t *len);

/* Appends the bytes of the n ids to out; -1 at an id that is no token. */
int tok_decode(const tokenizer *t, const int32_t *ids, size_t n, tok_bytes *out);

/* Decoding a token at a time, for printing text as it is generated: what
 * tok_stream_put appends ends on a whole UTF-8 character, the bytes of a
 * character that the next token may complete (at most 3) held back until
 * it does. Bytes that cannot become a valid character are not held. Zero
 * it to start; what put and end append, in order, is tok_decode's bytes. */
typedef struct {
    unsigned char held[4];
    int n;
} tok_stream;

/* Appends token id's bytes, those held before them first, less a partial
 * character at the end, which is held. */
int tok_stream_put(const tokenizer *t, tok_stream *s, int32_t id, tok_bytes *out);

/* Appends what is held (the end of the text: a character never completed). */
int tok_stream_end(tok_stream *s, tok_bytes *out);

#endif
