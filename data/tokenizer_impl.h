/* tokenizer_impl: the tokenizer's insides, shared by its files in data/
 * (tokenizer_load.c reads the JSON, tokenizer_bpe.c holds the merge
 * table, the BPE of one pre-token and the cache of them,
 * tokenizer_encode.c splits text into added tokens and pre-tokens,
 * tokenizer_decode.c turns ids into bytes). Private to them: the rest of
 * the program sees tokenizer.h. */
#ifndef ACCEL_TOKENIZER_IMPL_H
#define ACCEL_TOKENIZER_IMPL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "data/tokenizer.h"

/* A token's bytes in tokenizer.text; len TOK_NO_TOKEN where no token has
 * the id. */
#define TOK_NO_TOKEN UINT32_MAX
typedef struct {
    uint32_t off, len;
} tok_span;

/* The merges, by pair: (left id, right id) -> (rank, merged id), open
 * addressing; key TOK_FREE_PAIR where a slot is free (ids are below 2^24,
 * so no pair has it). */
#define TOK_FREE_PAIR UINT64_MAX
typedef struct {
    uint64_t key;
    uint32_t rank;
    int32_t id;
} tok_merge;

typedef struct {
    tok_merge *slots;
    uint64_t mask;
    int shift; /* 64 - log2(slots) */
} tok_merges;

/* One pending merge of the BPE: the pair at symbol pos, its rank and the
 * id it makes. */
typedef struct {
    uint32_t rank, pos;
    int32_t id;
} tok_heap_item;

/* The cache of pre-tokens already encoded: their bytes (as key) and ids,
 * in two arenas, found through an open-addressed table of slots (hash 0:
 * free). When the table is half full or an arena is, all of it is
 * dropped and it starts again: text repeats its common words soon after
 * any point, so a fresh cache fills with them again at once. */
typedef struct {
    uint32_t hash, key, ids; /* ids: offset in the ids arena */
    uint8_t key_len, n_ids;
} tok_cache_slot;

typedef struct {
    tok_cache_slot *slots;
    uint32_t mask, used;
    unsigned char *keys;
    uint32_t keys_len, keys_cap;
    int32_t *ids;
    uint32_t ids_len, ids_cap;
} tok_cache;

/* Pre-tokens longer than this are encoded every time, not cached (rare,
 * and seldom repeated: a long run of letters without a space). */
#define TOK_CACHE_MAX_KEY 255

/* An added token: its content (in tokenizer.text) and id. */
typedef struct {
    uint32_t off, len;
    int32_t id;
} tok_added;

/* The added tokens of one matching pass, and which bytes begin one. */
typedef struct {
    tok_added *tokens;
    int n;
    bool first[256];
    int n_first;             /* how many distinct bytes begin one */
    unsigned char only_byte; /* the byte, when n_first is 1 (memchr finds it) */
} tok_added_set;

/* A token of the vocab by its bytes (open addressing; id -1 where free):
 * only those whose text is all in the byte alphabet, which pre-tokens can
 * be. */
typedef struct {
    int32_t id;
    uint32_t off, len;
} tok_vocab_entry;

enum { TOK_PASS_RAW, TOK_PASS_NORMALIZED, TOK_PASSES };

/* The pre-tokenizer's patterns: exact, fast (for text without the code
 * points that tell them apart), and the one that finds those. */
enum { TOK_RE_EXACT, TOK_RE_FAST, TOK_RE_NEWER, TOK_RES };

/* Pre-tokens found by one call of PCRE2 (tokenizer_encode.c). */
#define TOK_BATCH 16

struct tokenizer {
    int32_t vocab_size;   /* one past the largest id */
    int32_t byte_id[256]; /* the token of each single byte */
    tok_span *tokens;     /* vocab_size of them: every id's bytes */
    unsigned char *text;  /* the bytes of all tokens */
    size_t text_len, text_cap;
    tok_merges merges;
    /* model.ignore_merges: a pre-token that is a whole token of the vocab
     * is that token; the vocab by bytes for it */
    bool ignore_merges;
    tok_vocab_entry *by_bytes;
    uint64_t by_bytes_mask;
    /* added tokens: normalized false, matched first; then the others */
    tok_added_set added[TOK_PASSES];
    /* the pre-tokenizer's patterns (tokenizer_encode.c) */
    pcre2_code *re[TOK_RES];
    bool jit[TOK_RES];
    pcre2_match_data *md;
    /* scratch of one pre-token's BPE, grown to the longest seen */
    int32_t *sym, *prev, *next;
    tok_heap_item *heap;
    size_t scratch_cap; /* symbols the scratch holds; the heap 3 times that */
    tok_cache cache;
    /* tok_split: where the pieces' ends go instead of their ids, and the
     * text they are offsets into */
    tok_offsets *split;
    const unsigned char *split_text;
};

/* 64 bits of hash of n bytes. */
uint64_t tok_hash_bytes(const unsigned char *p, size_t n);

/* The merge table for n merges; tok_merges_put adds or replaces (a later
 * duplicate of a pair wins, as in the tokenizers package); tok_merges_get
 * returns the slot of (a, b), or NULL. */
int tok_merges_init(tok_merges *m, size_t n);
void tok_merges_free(tok_merges *m);
void tok_merges_put(tok_merges *m, int32_t a, int32_t b, uint32_t rank, int32_t id);
const tok_merge *tok_merges_get(const tok_merges *m, int32_t a, int32_t b);

int tok_cache_init(tok_cache *c);
void tok_cache_free(tok_cache *c);

/* Appends the ids of one pre-token (n bytes, n > 0) to out: from the
 * cache, or by BPE, then cached. */
int tok_bpe_piece(tokenizer *t, const unsigned char *p, size_t n, tok_ids *out);

/* The id of the vocab's token of exactly these bytes (ignore_merges), or
 * -1. */
int32_t tok_vocab_find(const tokenizer *t, const unsigned char *p, size_t n);

/* The pre-tokenizer's patterns, compiled into t->re and t->md. */
int tok_pattern_compile(tokenizer *t);

/* The byte-level alphabet: the code point standing for each byte, and the
 * byte of each code point below 512 (-1: none). */
void tok_byte_alphabet(uint16_t byte_cp[256], int16_t cp_byte[512]);

#endif
