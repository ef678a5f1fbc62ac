/* dataset_text: UTF-8 (or any) text as byte-level tokens, for language
 * models. data.train names files, directories (their regular files, not
 * what links point to, not subdirectories) and glob patterns, separated by
 * commas; data.exclude drops files whose name matches one of its patterns.
 * The files are read whole and joined in sorted path order, so the token
 * stream does not depend on the order they were named in. The last
 * val_fraction of the stream is the validation split.
 *
 * Only regular files are read (a FIFO would block, /dev/zero never end:
 * fs_open_regular). The stream grows within the memory budget
 * (membudget), checked before each growth, so no input takes more memory
 * than the budget: a file whose size does not fit is refused before a
 * byte of it is read, and one that holds more than its size said is read
 * no further than the budget. Each byte is checked against the
 * embedding's vocab as it is read (vocab 128 trains on ASCII), and a byte
 * that is not below it is told with its file and offset.
 *
 * A training sample is a window of T + 1 bytes at any offset: T tokens in,
 * and the T that follow each as targets. Validation takes the windows that
 * do not overlap, from the start of its part, so every byte but the last
 * is predicted once (or only its first data.eval_tokens, in whole
 * windows). T is the first layer's block_size (an embedding).
 *
 * data.tokenizer names a tokenizer.json (data/tokenizer.h): the stream is
 * cut as above, the cut then moved back over continuation bytes to the
 * start of the UTF-8 character it falls in (at most 3 bytes), and each
 * part is encoded on its own into the tokenizer's ids, which are the
 * tokens the windows take (the windows counted in ids). The embedding's
 * vocab must hold the tokenizer's ids. The budget must hold the text and an id (4 bytes) for every
 * byte of it, the most ids it can become. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset_formats.h"
#include "data/filelist.h"
#include "data/tokenizer.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/membudget.h"

enum {
    TEXT_VOCAB = 256,
    TEXT_FIRST_CAP = 1 << 16, /* the first buffer when no size is known */
};

typedef struct {
    unsigned char *bytes; /* this split's part of the stream, or */
    int32_t *ids;         /* its ids, with data.tokenizer (then bytes is NULL) */
    int64_t len;          /* tokens: bytes or ids */
    int t;                /* tokens a window */
    int stride;           /* between windows: 1 (training) or t (validation) */
    char key[64];
} text_split;

/* data.train's stream as it is read. */
typedef struct {
    unsigned char *buf;
    int64_t len, cap;
    mem_budget budget; /* read once, before the first file: what the stream may take */
    int vocab;         /* every byte is below it: the embedding's vocab, at most 256 */
    const char *key;
} text_stream;

/* "1.50 GiB", or MiB below one GiB, where budgets for tests are. */
static void size_text(char *buf, size_t size, uint64_t bytes)
{
    double mib = (double)bytes / (1 << 20);
    if (mib >= 1024)
        snprintf(buf, size, "%.2f GiB", mib / 1024);
    else
        snprintf(buf, size, "%.2f MiB", mib);
}

/* The stream cannot grow to `want` bytes within the budget. `size` is the
 * file's size at open and `start` where its bytes begin in the stream:
 * want within them is the size known before reading; past them, the file
 * held more than its size said (it grew; /proc's files say 0). */
static int over_budget(const text_stream *s, int64_t want, const char *path, int64_t size,
                       int64_t start)
{
    const mem_budget *b = &s->budget;
    char what[DATASET_SPEC_MAX + 200];
    if (want <= start + size) {
        int n = snprintf(what, sizeof what, "%s: %s: its %lld bytes of text", s->key, path,
                         (long long)size);
        if (start > 0 && n > 0 && (size_t)n < sizeof what)
            snprintf(what + n, sizeof what - (size_t)n, ", with the %lld of the files before it,",
                     (long long)start);
        return mem_budget_fits(b, (uint64_t)want, 0, 1, what, NULL) < 0
                   ? -1
                   : err_set("%s: %s: over the memory budget", s->key, path);
    }
    char avail[32];
    size_text(avail, sizeof avail, b->bytes);
    return err_set("%s: %s: its size said %lld bytes, but it holds over %lld, which with the "
                   "%lld bytes of the files before it pass the memory available, %s (%s): not "
                   "read further",
                   s->key, path, (long long)size, (long long)(s->len - start), (long long)start,
                   avail, b->source);
}

/* Makes room for `want` bytes in all, doubling, but never past the
 * budget: no input, however large, and however wrong its size, takes more
 * memory than the budget allows. */
static int stream_reserve(text_stream *s, int64_t want, const char *path, int64_t size,
                          int64_t start)
{
    if (want <= s->cap)
        return 0;
    if ((uint64_t)want > s->budget.bytes)
        return over_budget(s, want, path, size, start);
    int64_t grow = s->cap < TEXT_FIRST_CAP ? TEXT_FIRST_CAP : 2 * s->cap;
    if (grow < want)
        grow = want;
    if ((uint64_t)grow > s->budget.bytes)
        grow = (int64_t)s->budget.bytes;
    unsigned char *p = realloc(s->buf, (size_t)grow);
    if (!p)
        return err_set("%s: out of memory reading %s (%lld bytes)", s->key, path, (long long)grow);
    s->buf = p;
    s->cap = grow;
    return 0;
}

/* Bytes not below the vocabulary are told as they are read, naming the
 * file and the offset: a model whose embedding has fewer than 256 rows
 * trains on text that keeps below them (ASCII, vocab 128). One compare a
 * byte, beside the read. */
static int check_bytes(const text_stream *s, const unsigned char *p, size_t n, const char *path,
                       int64_t offset)
{
    if (s->vocab >= TEXT_VOCAB)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (p[i] >= s->vocab)
            return err_set("%s: %s: byte %d at offset %lld is not below the vocabulary, %d (the "
                           "embedding's vocab)",
                           s->key, path, p[i], (long long)(offset + (int64_t)i), s->vocab);
    return 0;
}

/* Reads fd to its end onto the stream. A file's size is what it holds,
 * not what stat said: when the buffer is full the next bytes go through a
 * small probe, so a file of the size stat said needs no more room than
 * that, and one that holds more grows the stream within the budget. */
static int read_fd(text_stream *s, int fd, const char *path, int64_t size)
{
    const int64_t start = s->len;
    for (;;) {
        unsigned char probe[4096];
        bool room = s->len < s->cap;
        unsigned char *to = room ? s->buf + s->len : probe;
        int64_t left = s->cap - s->len;
        size_t n = !room ? sizeof probe : left > (1 << 30) ? (size_t)1 << 30 : (size_t)left;
        ssize_t got = read(fd, to, n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return err_errno("%s: cannot read %s", s->key, path);
        if (got == 0)
            return 0;
        if (!room && stream_reserve(s, s->len + got, path, size, start) < 0)
            return -1;
        if (!room)
            memcpy(s->buf + s->len, probe, (size_t)got);
        if (check_bytes(s, s->buf + s->len, (size_t)got, path, s->len - start) < 0)
            return -1;
        s->len += got;
    }
}

/* Appends the file to the stream: room for the size stat gives first,
 * checked against the budget before a byte is read. */
static int read_file(text_stream *s, const char *path)
{
    struct stat st;
    int fd = fs_open_regular(path, &st);
    if (fd < 0)
        return err_prefix("%s", s->key);
    int rc = stream_reserve(s, s->len + (int64_t)st.st_size, path, (int64_t)st.st_size, s->len);
    if (rc == 0)
        rc = read_fd(s, fd, path, (int64_t)st.st_size);
    if (close(fd) < 0 && rc == 0)
        rc = err_errno("%s: cannot close %s", s->key, path);
    return rc;
}

static int text_gather(dataset *ds, const int64_t *idx, int count, float *x, int32_t *y)
{
    const text_split *s = ds->impl;
    int32_t *tok = (int32_t *)x; /* token ids in x's place (ds->tokens) */
    for (int i = 0; i < count; i++) {
        if (idx[i] < 0 || idx[i] >= ds->n)
            return err_set("%s: window %lld is out of range (the split has %lld)", s->key,
                           (long long)idx[i], (long long)ds->n);
        if (s->ids) {
            const int32_t *w = s->ids + idx[i] * s->stride;
            memcpy(tok + (size_t)i * s->t, w, sizeof *w * (size_t)s->t);
            memcpy(y + (size_t)i * s->t, w + 1, sizeof *w * (size_t)s->t);
            continue;
        }
        const unsigned char *w = s->bytes + idx[i] * s->stride;
        for (int j = 0; j < s->t; j++) {
            tok[(size_t)i * s->t + j] = w[j];
            y[(size_t)i * s->t + j] = w[j + 1];
        }
    }
    return 0;
}

static void text_close(dataset *ds)
{
    text_split *s = ds->impl;
    if (s) {
        free(s->bytes);
        free(s->ids);
    }
    free(s);
    ds->impl = NULL;
}

/* ds becomes the windows of bytes[0..len) (or ids[0..len) where ids is
 * not NULL), every `stride`, of a vocabulary of `vocab`. Takes ownership
 * of bytes and ids, also when it fails. */
static int make_split(dataset *ds, unsigned char *bytes, int32_t *ids, int64_t len, int t,
                      int stride, int vocab, const char *key)
{
    text_split *s = calloc(1, sizeof *s);
    if (!s) {
        free(bytes);
        free(ids);
        return err_set("%s: out of memory", key);
    }
    s->bytes = bytes;
    s->ids = ids;
    s->len = len;
    s->t = t;
    s->stride = stride;
    snprintf(s->key, sizeof s->key, "%s", key);
    *ds = (dataset){.n = (len - 1 - t) / stride + 1,
                    .channels = t,
                    .height = 1,
                    .width = 1,
                    .features = t,
                    .classes = vocab,
                    .tokens = true,
                    .targets = t,
                    .bytes = (uint64_t)len * (ids ? sizeof *ids : 1),
                    .gather = text_gather,
                    .close = text_close,
                    .impl = s};
    return 0;
}

/* The bytes of the validation part that data.eval_tokens keeps: its
 * first whole windows of t tokens (each with the byte after it as the last
 * target), all of them when it asks for more or for 0. */
static int eval_part(const dataset_options *o, int t, int64_t *len)
{
    if (o->eval_tokens == 0)
        return 0;
    int64_t windows = o->eval_tokens / t;
    if (windows < 1)
        return err_set("data.eval_tokens = %ld is less than a window of %d tokens (block_size): "
                       "set at least %d, or 0 for the whole validation split",
                       o->eval_tokens, t, t);
    if (windows * t + 1 < *len)
        *len = windows * t + 1;
    return 0;
}

/* Reads data.train's files into one stream, each byte checked against
 * the vocabulary where bytes are the tokens, the whole within the memory
 * budget. */
static int read_stream(text_stream *s, const dataset_options *o, bool bytes_are_tokens)
{
    *s = (text_stream){.key = "data.train"};
    s->vocab = bytes_are_tokens && o->vocab > 0 && o->vocab < TEXT_VOCAB ? o->vocab : TEXT_VOCAB;
    mem_budget_read(&s->budget);
    file_list fl;
    int rc = file_list_open(&fl, o->train, o->exclude, s->key, "text files");
    for (size_t i = 0; rc == 0 && i < fl.n; i++)
        rc = read_file(s, fl.paths[i]);
    file_list_free(&fl);
    return rc;
}

/* The parts' lengths: training's [0, cut), validation's val_len after it. */
static int cut_parts(const text_stream *s, const dataset_options *o, int t, bool val, int64_t *cut,
                     int64_t *val_len)
{
    const int64_t len = s->len;
    *cut = len - (int64_t)((double)len * o->val_fraction);
    *val_len = len - *cut;
    if (*cut < (int64_t)t + 1)
        return err_set("%s = %s: its training part, %lld bytes, is shorter than a window of %d "
                       "(block_size + 1)",
                       s->key, o->train, (long long)*cut, t + 1);
    if (val && *val_len < (int64_t)t + 1)
        return err_set("%s = %s: its validation part (val_fraction %g), %lld bytes, is shorter "
                       "than a window of %d (block_size + 1): raise val_fraction, or set it to 0 "
                       "for none",
                       s->key, o->train, o->val_fraction, (long long)*val_len, t + 1);
    return val ? eval_part(o, t, val_len) : 0;
}

/* The training part keeps the stream's buffer (cut down to it); the
 * validation part is a copy of what it keeps, which the budget must hold
 * beside the stream. */
static int make_parts(dataset *train, dataset *val, text_stream *s, int64_t cut, int64_t val_len,
                      int t)
{
    unsigned char *copy = NULL;
    if (val) {
        if (mem_budget_fits(&s->budget, (uint64_t)s->len + (uint64_t)val_len, 0, 1,
                            "data.train: its text and a copy of its validation part", NULL) < 0)
            return -1;
        if (!(copy = malloc((size_t)val_len)))
            return err_set("%s: out of memory for %lld bytes of validation text", s->key,
                           (long long)val_len);
        memcpy(copy, s->buf + cut, (size_t)val_len);
    }
    unsigned char *kept = realloc(s->buf, (size_t)cut); /* the slack back; no copy */
    unsigned char *bytes = kept ? kept : s->buf;
    s->buf = NULL;
    if (make_split(train, bytes, NULL, cut, t, 1, s->vocab, "data.train") < 0) {
        free(copy);
        return -1;
    }
    if (val && make_split(val, copy, NULL, val_len, t, t, s->vocab, "data.val") < 0) {
        text_close(train);
        return -1;
    }
    return 0;
}

/* data.tokenizer, opened and checked against the embedding's vocab. */
static tokenizer *open_tokenizer(const dataset_options *o)
{
    tokenizer *tok = o->tokenizer_json
                         ? tok_open_buffer(o->tokenizer_json, o->tokenizer_len, o->tokenizer)
                         : tok_open(o->tokenizer);
    if (!tok) {
        err_prefix("data.tokenizer");
        return NULL;
    }
    int32_t n = tok_vocab_size(tok);
    if (o->vocab > 0 && n > o->vocab) {
        err_set("data.tokenizer = %s: its ids reach %d, past the embedding's vocab, %d: set the "
                "first layer's vocab (and the last layer's units) to at least %d",
                o->tokenizer, n - 1, o->vocab, n);
        tok_close(tok);
        return NULL;
    }
    return tok;
}

/* Where the training part ends when the text is tokenized: cut_parts'
 * place, moved back over continuation bytes (10xxxxxx) to the start of
 * the character it falls in, so neither part holds half of one. */
static int64_t char_cut(const unsigned char *b, int64_t len, int64_t cut)
{
    for (int i = 0; i < 3 && cut > 0 && cut < len && (b[cut] & 0xC0) == 0x80; i++)
        cut--;
    return cut;
}

/* The ids of bytes[0..len), in a buffer of their own (*ids, *n). */
static int encode_part(tokenizer *tok, const unsigned char *bytes, int64_t len, const char *key,
                       int32_t **ids, int64_t *n)
{
    tok_ids a = {0};
    if (tok_encode(tok, bytes, (size_t)len, &a) < 0) {
        tok_ids_free(&a);
        return err_prefix("%s: data.tokenizer", key);
    }
    *ids = a.ids;
    *n = (int64_t)a.len;
    return 0;
}

/* The mean bytes of text of the targets of a validation part's n windows
 * of t (ids[1 .. n t]), for its bits per byte. */
static double target_bytes(const tokenizer *tok, const int32_t *ids, int64_t n, int t)
{
    uint64_t sum = 0;
    for (int64_t i = 1; i <= n * t; i++) {
        const unsigned char *b;
        size_t len = 0;
        if (tok_token_bytes(tok, ids[i], &b, &len) == 0)
            sum += len;
    }
    return n > 0 ? (double)sum / (double)(n * t) : 0.0;
}

/* A part of n ids must hold a window of t + 1. */
static int check_part(const dataset_options *o, const char *part, int64_t n, int t)
{
    if (n >= (int64_t)t + 1)
        return 0;
    return err_set("data.train = %s: its %s part is %lld tokens of data.tokenizer, shorter "
                   "than a window of %d (block_size + 1)%s",
                   o->train, part, (long long)n, t + 1,
                   strcmp(part, "validation") == 0 ? ": raise val_fraction, or set it to 0 for none"
                                                   : "");
}

/* The stream's two parts as ids of data.tokenizer: the bytes cut as
 * without one, the cut moved to a character's start, each part encoded on
 * its own. */
static int make_token_parts(dataset *train, dataset *val, text_stream *s, const dataset_options *o,
                            tokenizer *tok, int t)
{
    const int64_t len = s->len;
    if (mem_budget_fits(&s->budget, (uint64_t)len * (1 + sizeof(int32_t)), 0, 1,
                        "data.train: its text and an id of data.tokenizer for each byte", NULL) < 0)
        return -1;
    int64_t cut = char_cut(s->buf, len, len - (int64_t)((double)len * o->val_fraction));
    int32_t *train_ids = NULL, *val_ids = NULL;
    int64_t train_n = 0, val_n = 0;
    if (encode_part(tok, s->buf, cut, "data.train", &train_ids, &train_n) < 0)
        return -1;
    int rc = check_part(o, "training", train_n, t);
    if (rc == 0 && val) {
        rc = encode_part(tok, s->buf + cut, len - cut, "data.val", &val_ids, &val_n);
        if (rc == 0)
            rc = check_part(o, "validation", val_n, t);
        if (rc == 0)
            rc = eval_part(o, t, &val_n);
    }
    free(s->buf); /* the bytes are ids now */
    s->buf = NULL;
    if (rc < 0) {
        free(train_ids);
        free(val_ids);
        return -1;
    }
    const int vocab = tok_vocab_size(tok);
    if (make_split(train, NULL, train_ids, train_n, t, 1, vocab, "data.train") < 0) {
        free(val_ids);
        return -1;
    }
    if (val && make_split(val, NULL, val_ids, val_n, t, t, vocab, "data.val") < 0) {
        text_close(train);
        return -1;
    }
    if (val)
        val->bytes_per_token = target_bytes(tok, val_ids, val->n, t);
    return 0;
}

int dataset_open_text(dataset *train, dataset *val, const dataset_options *o, int t)
{
    text_stream s;
    int64_t cut = 0, val_len = 0;
    if (o->tokenizer && o->tokenizer[0]) {
        tokenizer *tok = NULL;
        int rc = read_stream(&s, o, false);
        if (rc == 0 && !(tok = open_tokenizer(o)))
            rc = -1;
        if (rc == 0)
            rc = make_token_parts(train, val, &s, o, tok, t);
        free(s.buf);
        tok_close(tok);
        return rc;
    }
    int rc = read_stream(&s, o, true);
    if (rc == 0)
        rc = cut_parts(&s, o, t, val != NULL, &cut, &val_len);
    if (rc == 0)
        rc = make_parts(train, val, &s, cut, val_len, t);
    free(s.buf);
    return rc;
}
