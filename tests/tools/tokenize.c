/* tokenize: the tokenizer (data/tokenizer.h) from the command line, for the
 * parity test against the tokenizers package (tests/python/
 * check_tokenizer.py), the benchmark (bench/tokenizer.py) and by hand.
 *
 *     tokenize TOKENIZER.json [--plain]              stdin's ids, one line
 *     tokenize TOKENIZER.json --decode               ids on stdin, their bytes out
 *     tokenize TOKENIZER.json [--plain] --records    records in, ids out (below)
 *     tokenize TOKENIZER.json [--plain] --split      records in, pieces' ends out
 *     tokenize TOKENIZER.json [--plain] --time N     stdin encoded N times, timed
 *     tokenize TOKENIZER.json --info                 vocab size, added tokens
 *
 * --plain encodes without matching added tokens (tok_encode_plain).
 * --records reads records of a 4-byte little-endian length and that many
 * bytes, and writes for each its count of ids (4 bytes, little-endian)
 * and the ids (4 bytes each). Every record is also decoded back, whole and
 * a token at a time through tok_stream, and must give its bytes again:
 * when not, the program fails naming the record. --split reads the same
 * records and writes, as --records writes ids, where tok_split cuts each
 * (the end offset of each piece). --time prints one JSON
 * line: the bytes, the ids, the first run's seconds (the cache empty) and
 * the fastest run's. Errors: one line on stderr, exit 1; usage: exit 2. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "data/tokenizer.h"
#include "util/err.h"

static int fail(const char *what)
{
    fprintf(stderr, "tokenize: error: %s%s%s\n", what, err_msg()[0] ? ": " : "", err_msg());
    return 1;
}

/* All of stdin into b. */
static int read_stdin(tok_bytes *b)
{
    for (;;) {
        if (b->cap - b->len < 65536) {
            size_t cap = b->cap ? 2 * b->cap : 1 << 20;
            unsigned char *grown = realloc(b->bytes, cap);
            if (!grown)
                return err_set("out of memory reading stdin");
            b->bytes = grown;
            b->cap = cap;
        }
        size_t n = fread(b->bytes + b->len, 1, b->cap - b->len, stdin);
        b->len += n;
        if (n == 0)
            return ferror(stdin) ? err_set("reading stdin failed") : 0;
    }
}

static int encode(tokenizer *t, bool plain, const void *p, size_t n, tok_ids *ids)
{
    return plain ? tok_encode_plain(t, p, n, ids) : tok_encode(t, p, n, ids);
}

static int print_ids(tokenizer *t, bool plain)
{
    tok_bytes in = {0};
    tok_ids ids = {0};
    int rc = read_stdin(&in) < 0 || encode(t, plain, in.bytes, in.len, &ids) < 0 ? -1 : 0;
    for (size_t i = 0; rc == 0 && i < ids.len; i++)
        printf("%s%d", i ? " " : "", ids.ids[i]);
    if (rc == 0)
        printf("\n");
    tok_bytes_free(&in);
    tok_ids_free(&ids);
    return rc;
}

static int decode(const tokenizer *t)
{
    tok_ids ids = {0};
    tok_bytes out = {0};
    long v;
    int rc = 0;
    while (rc == 0 && scanf("%ld", &v) == 1)
        if (v < INT32_MIN || v > INT32_MAX)
            rc = err_set("%ld is no id", v);
        else if ((rc = tok_ids_reserve(&ids, 1)) == 0)
            ids.ids[ids.len++] = (int32_t)v;
    if (rc == 0 && !feof(stdin))
        rc = err_set("stdin holds something that is not an id");
    if (rc == 0 && tok_decode(t, ids.ids, ids.len, &out) == 0)
        fwrite(out.bytes, 1, out.len, stdout);
    else
        rc = -1;
    tok_ids_free(&ids);
    tok_bytes_free(&out);
    return rc;
}

static void put_le32(uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    fwrite(b, 1, 4, stdout);
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Record r (n bytes at p) decoded back, whole and through tok_stream,
 * must be its bytes. */
static int round_trip(const tokenizer *t, const tok_ids *ids, const unsigned char *p, size_t n,
                      size_t r, tok_bytes *scratch)
{
    scratch->len = 0;
    if (tok_decode(t, ids->ids, ids->len, scratch) < 0)
        return -1;
    if (scratch->len != n || (n && memcmp(scratch->bytes, p, n) != 0))
        return err_set("record %zu: decode(encode(x)) is not x (%zu bytes, %zu back)", r, n,
                       scratch->len);
    scratch->len = 0;
    tok_stream s = {0};
    for (size_t i = 0; i < ids->len; i++)
        if (tok_stream_put(t, &s, ids->ids[i], scratch) < 0)
            return -1;
    if (tok_stream_end(&s, scratch) < 0)
        return -1;
    if (scratch->len != n || (n && memcmp(scratch->bytes, p, n) != 0))
        return err_set("record %zu: the stream decoder's bytes are not x", r);
    return 0;
}

/* One record's values out: their count, then each (4 bytes, little-endian). */
static void put_values(const void *v, size_t n, bool offsets)
{
    put_le32((uint32_t)n);
    for (size_t i = 0; i < n; i++)
        put_le32(offsets ? (uint32_t)((const size_t *)v)[i] : (uint32_t)((const int32_t *)v)[i]);
}

/* --split: one record's pieces' ends out. */
static int split_one(tokenizer *t, bool plain, const unsigned char *p, size_t n, tok_offsets *ends)
{
    ends->len = 0;
    if (tok_split(t, p, n, plain, ends) < 0)
        return -1;
    put_values(ends->at, ends->len, true);
    return 0;
}

/* --records: one record's ids out, checked to decode back to it. */
static int encode_one(tokenizer *t, bool plain, const unsigned char *p, size_t n, size_t r,
                      tok_ids *ids, tok_bytes *back)
{
    ids->len = 0;
    if (encode(t, plain, p, n, ids) < 0 || round_trip(t, ids, p, n, r, back) < 0)
        return -1;
    put_values(ids->ids, ids->len, false);
    return 0;
}

static int records(tokenizer *t, bool plain, bool split)
{
    tok_bytes in = {0}, back = {0};
    tok_ids ids = {0};
    tok_offsets ends = {0};
    int rc = read_stdin(&in);
    size_t at = 0;
    for (size_t r = 0; rc == 0 && at < in.len; r++) {
        uint32_t n = in.len - at >= 4 ? le32(in.bytes + at) : UINT32_MAX;
        if (n > in.len - at - 4) {
            rc = err_set("record %zu: cut short", r);
            break;
        }
        const unsigned char *p = in.bytes + at + 4;
        rc = split ? split_one(t, plain, p, n, &ends) : encode_one(t, plain, p, n, r, &ids, &back);
        at += 4 + (size_t)n;
    }
    tok_offsets_free(&ends);
    tok_bytes_free(&in);
    tok_bytes_free(&back);
    tok_ids_free(&ids);
    return rc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int timed(tokenizer *t, bool plain, int rounds)
{
    tok_bytes in = {0};
    tok_ids ids = {0};
    double first = 0, best = 0;
    int rc = read_stdin(&in);
    for (int i = 0; rc == 0 && i < rounds; i++) {
        ids.len = 0;
        double t0 = now();
        rc = encode(t, plain, in.bytes, in.len, &ids);
        double s = now() - t0;
        first = i == 0 ? s : first;
        best = i == 0 || s < best ? s : best;
    }
    if (rc == 0)
        printf("{\"bytes\": %zu, \"ids\": %zu, \"first_s\": %.6f, \"best_s\": %.6f}\n", in.len,
               ids.len, first, best);
    tok_bytes_free(&in);
    tok_ids_free(&ids);
    return rc;
}

static int info(const tokenizer *t)
{
    printf("vocab_size %d\n", tok_vocab_size(t));
    printf("endoftext %d\n", tok_added_id(t, "<|endoftext|>"));
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: tokenize TOKENIZER.json [--plain] [--decode | --records | --split | "
                    "--time N | --info]\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    bool plain = false;
    const char *mode = "";
    int rounds = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--plain"))
            plain = true;
        else if (!strcmp(argv[i], "--time") && i + 1 < argc && (rounds = atoi(argv[i + 1])) > 0)
            mode = argv[i++];
        else if (!strcmp(argv[i], "--decode") || !strcmp(argv[i], "--records") ||
                 !strcmp(argv[i], "--split") || !strcmp(argv[i], "--info"))
            mode = argv[i];
        else
            return usage();
    }
    tokenizer *t = tok_open(argv[1]);
    if (!t)
        return fail("cannot load the tokenizer");
    int rc = !strcmp(mode, "--decode")    ? decode(t)
             : !strcmp(mode, "--records") ? records(t, plain, false)
             : !strcmp(mode, "--split")   ? records(t, plain, true)
             : !strcmp(mode, "--time")    ? timed(t, plain, rounds)
             : !strcmp(mode, "--info")    ? info(t)
                                          : print_ids(t, plain);
    tok_close(t);
    if (fflush(stdout) != 0)
        rc = err_set("writing stdout failed");
    return rc < 0 ? fail(mode[0] ? mode + 2 : "encode") : 0;
}
