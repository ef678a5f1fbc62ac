/* dataset_tokens: pre-tokenized shards in llm.c's format, for language
 * models (data.format = tokens). A shard is a header of 256 little-endian
 * int32 ([0] the magic 20240520, [1] the version, 1, [2] the token count
 * N) and then N little-endian uint16 tokens. data.train (and data.test)
 * names shards as text names files: files, directories and globs, comma-
 * separated, data.exclude applied, sorted by path.
 *
 * Only the headers are read when the splits open (the magic, the version,
 * and the count against the file's size), so a corpus of any size opens
 * in the time its headers take, and memory does not grow with it: a
 * split holds a table of its segments. Each batch's windows are read from
 * the files as the batch is gathered (pread), and their tokens are checked
 * against the vocabulary then: a token out of range is told, naming the
 * file and its byte offset, when a window that holds it is first read.
 * A shard whose size changes during the run (cut short, rewritten) is
 * told, with its size now and at start-up, when it is opened or a window
 * of it comes short. Shards are regular files (fs_open_regular): a FIFO
 * named, or put in a shard's place, is refused rather than waited on.
 *
 * A segment is a run of tokens of one shard: a whole shard, or its part
 * on one side of the validation cut. Windows of T + 1 tokens lie within a
 * segment, never across two: a segment of L tokens has L - T training
 * windows (stride 1, any offset, as text's) or (L - 1) / T validation
 * windows (stride T, from its start). Window i of a split is found by a
 * binary search of the segments' first window numbers (a prefix sum), so
 * the order the sampler makes of [0, n), a function of (seed, epoch)
 * alone, covers every shard. */
#include <errno.h>
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

enum {
    SHARD_MAGIC = 20240520,
    SHARD_VERSION = 1,
    SHARD_HEADER = 256 * 4, /* bytes */
};

typedef struct {
    char *path;
    int64_t bytes; /* the file's size at start-up, as its header counts */
    int fd;        /* -1 until a window is read from it */
} shard;

typedef struct {
    int shard;
    int64_t first;   /* its first token in the shard */
    int64_t len;     /* tokens */
    int64_t windows; /* that lie within it */
    int64_t before;  /* windows of the segments before it */
} segment;

typedef struct {
    shard *shards;
    int n_shards;
    segment *segs;
    int n_segs;
    int t;      /* tokens a window */
    int stride; /* between windows: 1 (training) or t (validation) */
    int vocab;
    bool tokenizer; /* vocab is data.tokenizer's size */
    char key[64];
} tokens_split;

/* A shard as its header describes it: its path and token count. */
typedef struct {
    const char *path;
    int64_t tokens;
} shard_info;

/* The file's size for a count of tokens. */
static int64_t shard_bytes(int64_t tokens)
{
    return SHARD_HEADER + 2 * tokens;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads len bytes at off, looping over short reads; *got is what came. */
static int read_at(int fd, void *buf, size_t len, int64_t off, size_t *got)
{
    *got = 0;
    while (*got < len) {
        ssize_t r = pread(fd, (char *)buf + *got, len - *got, (off_t)(off + (int64_t)*got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        *got += (size_t)r;
    }
    return 0;
}

/* The header of one shard: its magic, version and token count, the count
 * checked against the file's size. */
static int read_header(const char *path, const char *key, int64_t *tokens)
{
    struct stat st;
    int fd = fs_open_regular(path, &st);
    if (fd < 0)
        return err_prefix("%s", key);
    unsigned char h[12];
    size_t got = 0;
    int rc = read_at(fd, h, sizeof h, 0, &got) < 0 ? err_errno("%s: cannot read %s", key, path) : 0;
    close(fd);
    if (rc < 0)
        return -1;
    if (st.st_size < SHARD_HEADER)
        return err_set("%s: %s: %lld bytes, shorter than a token shard's header of %d", key, path,
                       (long long)st.st_size, SHARD_HEADER);
    if (got < sizeof h) /* read_at stops short at the end: the file shrank since fstat */
        return err_set("%s: %s ends at %zu bytes, inside its header (it changed while being "
                       "read?)",
                       key, path, got);
    int32_t magic = (int32_t)le32(h), version = (int32_t)le32(h + 4), n = (int32_t)le32(h + 8);
    if (magic != SHARD_MAGIC)
        return err_set("%s: %s: not a token shard: magic %d at offset 0, expected %d", key, path,
                       magic, SHARD_MAGIC);
    if (version != SHARD_VERSION)
        return err_set("%s: %s: version %d at offset 4, expected %d (uint16 tokens)", key, path,
                       version, SHARD_VERSION);
    int64_t want = shard_bytes(n);
    if (n < 0 || want != st.st_size)
        return err_set("%s: %s: the header's token count, %d at offset 8, makes %lld bytes, but "
                       "the file has %lld",
                       key, path, n, (long long)want, (long long)st.st_size);
    *tokens = n;
    return 0;
}

/* The headers of the files of spec. */
static int read_headers(file_list *fl, shard_info **out, const char *spec, const char *exclude,
                        const char *key)
{
    if (file_list_open(fl, spec, exclude, key, "token shards") < 0)
        return -1;
    shard_info *info = calloc(fl->n, sizeof *info);
    if (!info) {
        file_list_free(fl);
        return err_set("%s: out of memory for %zu shards", key, fl->n);
    }
    for (size_t i = 0; i < fl->n; i++) {
        info[i].path = fl->paths[i];
        if (read_header(fl->paths[i], key, &info[i].tokens) < 0) {
            free(info);
            file_list_free(fl);
            return -1;
        }
    }
    *out = info;
    return 0;
}

/* The shard and the token where window i starts. */
static const segment *find_window(const tokens_split *s, int64_t i, int64_t *token)
{
    int lo = 0, hi = s->n_segs - 1;
    while (lo < hi) { /* the last segment whose first window is at most i */
        int mid = lo + (hi - lo + 1) / 2;
        if (s->segs[mid].before <= i)
            lo = mid;
        else
            hi = mid - 1;
    }
    const segment *g = &s->segs[lo];
    *token = g->first + (i - g->before) * s->stride;
    return g;
}

/* The shard's size differs from the one at start-up: a file changed (cut
 * short, rewritten) during the run. `off` and `len`: the bytes of the
 * window that was being read (len 0: none). */
static int shard_changed(const tokens_split *s, const shard *sh, int64_t now, int64_t off,
                         size_t len)
{
    char need[96] = "";
    if (len > 0)
        snprintf(need, sizeof need, ", and the window read needs bytes %lld to %lld",
                 (long long)off, (long long)(off + (int64_t)len));
    return err_set("%s: %s is %lld bytes now, but was %lld at start-up%s: the file changed during "
                   "the run",
                   s->key, sh->path, (long long)now, (long long)sh->bytes, need);
}

/* The shard's file, opened on first use and kept open; when the process
 * has no descriptor left, the split's others are closed to make room. A
 * shard is read only while it is the file its header described at
 * start-up, a regular file of the same size (a FIFO put in its place
 * would block the read). */
static int shard_fd(tokens_split *s, shard *sh)
{
    if (sh->fd >= 0)
        return sh->fd;
    struct stat st;
    sh->fd = fs_open_regular(sh->path, &st);
    if (sh->fd < 0 && (errno == EMFILE || errno == ENFILE)) {
        for (int i = 0; i < s->n_shards; i++)
            if (s->shards[i].fd >= 0) {
                close(s->shards[i].fd);
                s->shards[i].fd = -1;
            }
        sh->fd = fs_open_regular(sh->path, &st);
    }
    if (sh->fd < 0)
        return err_prefix("%s", s->key);
    if ((int64_t)st.st_size != sh->bytes) {
        close(sh->fd);
        sh->fd = -1;
        return shard_changed(s, sh, (int64_t)st.st_size, 0, 0);
    }
    return sh->fd;
}

/* The read of a window came short: the file is shorter than at start-up. */
static int window_cut(const tokens_split *s, const shard *sh, int64_t off, size_t len)
{
    struct stat st;
    if (fstat(sh->fd, &st) < 0)
        return err_errno("%s: cannot stat %s", s->key, sh->path);
    return shard_changed(s, sh, (int64_t)st.st_size, off, len);
}

/* Window i's t + 1 tokens into buf (2 (t + 1) bytes), checked against the
 * vocabulary. */
static int read_window(tokens_split *s, int64_t i, unsigned char *buf, int32_t *x, int32_t *y)
{
    int64_t token;
    const segment *g = find_window(s, i, &token);
    shard *sh = &s->shards[g->shard];
    int fd = shard_fd(s, sh);
    if (fd < 0)
        return -1;
    size_t len = 2 * ((size_t)s->t + 1), got;
    int64_t off = SHARD_HEADER + 2 * token;
    if (read_at(fd, buf, len, off, &got) < 0)
        return err_errno("%s: cannot read %s at offset %lld", s->key, sh->path, (long long)off);
    if (got < len)
        return window_cut(s, sh, off, len);
    for (int j = 0; j <= s->t; j++) {
        int v = buf[2 * j] | buf[2 * j + 1] << 8;
        if (v >= s->vocab)
            return err_set("%s: %s: token %d at offset %lld is not below the vocabulary, %d "
                           "(%s)",
                           s->key, sh->path, v, (long long)(off + 2 * j), s->vocab,
                           s->tokenizer ? "data.tokenizer's" : "the embedding's vocab");
        if (j < s->t)
            x[j] = v;
        if (j > 0)
            y[j - 1] = v;
    }
    return 0;
}

static int tokens_gather(dataset *ds, const int64_t *idx, int count, float *x, int32_t *y)
{
    tokens_split *s = ds->impl;
    int32_t *tok = (int32_t *)x; /* token ids in x's place (ds->tokens) */
    unsigned char *buf = malloc(2 * ((size_t)s->t + 1));
    if (!buf)
        return err_set("%s: out of memory for a window", s->key);
    int rc = 0;
    for (int i = 0; rc == 0 && i < count; i++) {
        if (idx[i] < 0 || idx[i] >= ds->n)
            rc = err_set("%s: window %lld is out of range (the split has %lld)", s->key,
                         (long long)idx[i], (long long)ds->n);
        else
            rc = read_window(s, idx[i], buf, tok + (size_t)i * s->t, y + (size_t)i * s->t);
    }
    free(buf);
    return rc;
}

static void free_split(tokens_split *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_shards; i++) {
        if (s->shards[i].fd >= 0)
            close(s->shards[i].fd);
        free(s->shards[i].path);
    }
    free(s->shards);
    free(s->segs);
    free(s);
}

static void tokens_close(dataset *ds)
{
    free_split(ds->impl);
    ds->impl = NULL;
}

/* A split over tokens [from, to) of the stream the shards make, in
 * windows of t every `stride`; the validation split keeps its first
 * `max_windows` (0: all). */
static int make_split(dataset *ds, const shard_info *info, size_t n, int64_t from, int64_t to,
                      const dataset_options *o, int stride, int64_t max_windows, const char *key)
{
    const int t = o->window;
    tokens_split *s = calloc(1, sizeof *s);
    if (!s || !(s->shards = calloc(n, sizeof *s->shards)) ||
        !(s->segs = calloc(n, sizeof *s->segs))) {
        free_split(s);
        return err_set("%s: out of memory for %zu shards", key, n);
    }
    s->t = t;
    s->stride = stride;
    s->vocab = o->vocab;
    s->tokenizer = o->tokenizer && o->tokenizer[0];
    snprintf(s->key, sizeof s->key, "%s", key);
    int64_t at = 0, windows = 0;
    for (size_t i = 0; i < n; at += info[i].tokens, i++) {
        int64_t a = at > from ? at : from, b = at + info[i].tokens < to ? at + info[i].tokens : to;
        if (b - a < (int64_t)t + 1)
            continue; /* no window in it */
        shard *sh = &s->shards[s->n_shards];
        sh->fd = -1;
        sh->bytes = shard_bytes(info[i].tokens);
        if (!(sh->path = strdup(info[i].path))) {
            free_split(s);
            return err_set("%s: out of memory for %zu shards", key, n);
        }
        segment *g = &s->segs[s->n_segs++];
        *g = (segment){.shard = s->n_shards++, .first = a - at, .len = b - a, .before = windows};
        g->windows = (g->len - 1 - t) / stride + 1;
        windows += g->windows;
    }
    if (max_windows > 0 && max_windows < windows)
        windows = max_windows;
    *ds = (dataset){.n = windows,
                    .channels = t,
                    .height = 1,
                    .width = 1,
                    .features = t,
                    .classes = o->vocab,
                    .tokens = true,
                    .targets = t,
                    .bytes = sizeof *s + n * (sizeof *s->shards + sizeof *s->segs),
                    .gather = tokens_gather,
                    .close = tokens_close,
                    .impl = s};
    return 0;
}

static int64_t total_tokens(const shard_info *info, size_t n)
{
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += info[i].tokens;
    return sum;
}

/* The validation windows data.eval_tokens keeps (0: all). */
static int eval_windows(const dataset_options *o, int64_t *windows)
{
    *windows = 0;
    if (o->eval_tokens == 0)
        return 0;
    *windows = o->eval_tokens / o->window;
    if (*windows < 1)
        return err_set("data.eval_tokens = %ld is less than a window of %d tokens (block_size): "
                       "set at least %d, or 0 for the whole validation split",
                       o->eval_tokens, o->window, o->window);
    return 0;
}

static int too_short(const char *key, const char *spec, const char *part, int64_t tokens, int t)
{
    return err_set("%s = %s: %s has %lld tokens, no window of %d (block_size + 1) within a shard",
                   key, spec, part, (long long)tokens, t + 1);
}

/* data.test's shards validate, all of data.train's train. */
static int open_test(dataset *train, dataset *val, const dataset_options *o, const shard_info *info,
                     size_t n, int64_t max_windows)
{
    int64_t all = total_tokens(info, n);
    if (make_split(train, info, n, 0, all, o, 1, 0, "data.train") < 0)
        return -1;
    if (train->n == 0) {
        tokens_close(train);
        return too_short("data.train", o->train, "it", all, o->window);
    }
    file_list fl;
    shard_info *vinfo;
    if (read_headers(&fl, &vinfo, o->test, o->exclude, "data.test") < 0) {
        tokens_close(train);
        return -1;
    }
    int64_t vall = total_tokens(vinfo, fl.n);
    int rc = make_split(val, vinfo, fl.n, 0, vall, o, o->window, max_windows, "data.test");
    if (rc == 0 && val->n == 0) {
        tokens_close(val);
        rc = too_short("data.test", o->test, "it", vall, o->window);
    }
    if (rc < 0)
        tokens_close(train);
    free(vinfo);
    file_list_free(&fl);
    return rc;
}

/* The last val_fraction of data.train's tokens validates (val NULL: none). */
static int open_cut(dataset *train, dataset *val, const dataset_options *o, const shard_info *info,
                    size_t n, int64_t max_windows)
{
    int64_t all = total_tokens(info, n), cut = all - (int64_t)((double)all * o->val_fraction);
    if (make_split(train, info, n, 0, cut, o, 1, 0, "data.train") < 0)
        return -1;
    if (train->n == 0) {
        tokens_close(train);
        return too_short("data.train", o->train, "its training part", cut, o->window);
    }
    if (!val)
        return 0;
    if (make_split(val, info, n, cut, all, o, o->window, max_windows, "data.val") < 0) {
        tokens_close(train);
        return -1;
    }
    if (val->n == 0) {
        tokens_close(train);
        tokens_close(val);
        return err_set("data.train = %s: its validation part (val_fraction %g), %lld tokens, "
                       "has no window of %d (block_size + 1) within a shard: raise "
                       "val_fraction, name validation shards in data.test, or set val_fraction "
                       "to 0 for none",
                       o->train, o->val_fraction, (long long)(all - cut), o->window + 1);
    }
    return 0;
}

/* data.tokenizer, where set: the shards' ids are its ids, so they are
 * bounded by its size, which the embedding's vocab must hold. *bounded
 * gets o with vocab the tokenizer's size. */
static int tokenizer_bound(const dataset_options *o, dataset_options *bounded)
{
    *bounded = *o;
    if (!o->tokenizer || !o->tokenizer[0])
        return 0;
    tokenizer *tok = o->tokenizer_json
                         ? tok_open_buffer(o->tokenizer_json, o->tokenizer_len, o->tokenizer)
                         : tok_open(o->tokenizer);
    if (!tok)
        return err_prefix("data.tokenizer");
    int32_t n = tok_vocab_size(tok);
    tok_close(tok);
    if (o->vocab > 0 && n > o->vocab)
        return err_set("data.tokenizer = %s: its ids reach %d, past the embedding's vocab, %d: "
                       "set the first layer's vocab (and the last layer's units) to at least %d",
                       o->tokenizer, n - 1, o->vocab, n);
    bounded->vocab = n;
    return 0;
}

int dataset_open_tokens(dataset *train, dataset *val, const dataset_options *opts)
{
    int64_t max_windows;
    dataset_options bounded;
    if (tokenizer_bound(opts, &bounded) < 0)
        return -1;
    const dataset_options *o = &bounded;
    if (eval_windows(o, &max_windows) < 0)
        return -1;
    file_list fl;
    shard_info *info;
    if (read_headers(&fl, &info, o->train, o->exclude, "data.train") < 0)
        return -1;
    int rc = o->test[0] ? open_test(train, val, o, info, fl.n, max_windows)
                        : open_cut(train, val, o, info, fl.n, max_windows);
    free(info);
    file_list_free(&fl);
    return rc;
}
