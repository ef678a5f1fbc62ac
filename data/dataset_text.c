/* dataset_text: UTF-8 (or any) text as byte-level tokens, for language
 * models. data.train names files, directories (their regular files, not
 * what links point to, not subdirectories) and glob patterns, separated by
 * commas; data.exclude drops files whose name matches one of its patterns.
 * The files are read whole and joined in sorted path order, so the token
 * stream does not depend on the order they were named in. The last
 * val_fraction of the stream is the validation split.
 *
 * A training sample is a window of T + 1 bytes at any offset: T tokens in,
 * and the T that follow each as targets. Validation takes the windows that
 * do not overlap, from the start of its part, so every byte but the last
 * is predicted once (or only its first data.eval_tokens, in whole
 * windows). T is the first layer's block_size (an embedding). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset_formats.h"
#include "data/filelist.h"
#include "util/err.h"
#include "util/membudget.h"

enum { TEXT_VOCAB = 256 };

typedef struct {
    unsigned char *bytes; /* this split's part of the stream */
    int64_t len;
    int t;      /* tokens a window */
    int stride; /* between windows: 1 (training) or t (validation) */
    char key[64];
} text_split;

/* Appends the file to the stream, which grows as it reads: a file's size
 * is what it holds, not what stat said a moment before. */
static int read_file(const char *path, unsigned char **buf, int64_t *len, int64_t *cap,
                     const char *key)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_errno("%s: cannot open %s", key, path);
    int rc = 0;
    for (;;) {
        if (*len == *cap) {
            int64_t grow = *cap ? 2 * *cap : 1 << 20;
            unsigned char *p = realloc(*buf, (size_t)grow);
            if (!p) {
                rc = err_set("%s: out of memory reading %s", key, path);
                break;
            }
            *buf = p;
            *cap = grow;
        }
        size_t got = fread(*buf + *len, 1, (size_t)(*cap - *len), f);
        *len += (int64_t)got;
        if (got == 0)
            break;
    }
    if (rc == 0 && ferror(f))
        rc = err_errno("%s: cannot read %s", key, path);
    fclose(f);
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
    if (s)
        free(s->bytes);
    free(s);
    ds->impl = NULL;
}

/* ds becomes the windows of bytes[0..len) (copied), every `stride`. */
static int make_split(dataset *ds, const unsigned char *bytes, int64_t len, int t, int stride,
                      const char *key)
{
    text_split *s = calloc(1, sizeof *s);
    if (!s || !(s->bytes = malloc((size_t)len))) {
        free(s);
        return err_set("%s: out of memory for %lld bytes of text", key, (long long)len);
    }
    memcpy(s->bytes, bytes, (size_t)len);
    s->len = len;
    s->t = t;
    s->stride = stride;
    snprintf(s->key, sizeof s->key, "%s", key);
    *ds = (dataset){.n = (len - 1 - t) / stride + 1,
                    .channels = t,
                    .height = 1,
                    .width = 1,
                    .features = t,
                    .classes = TEXT_VOCAB,
                    .tokens = true,
                    .targets = t,
                    .bytes = (uint64_t)len,
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

int dataset_open_text(dataset *train, dataset *val, const dataset_options *o, int t)
{
    const char *key = "data.train";
    file_list fl;
    unsigned char *buf = NULL;
    int64_t len = 0, cap = 0;
    int rc = file_list_open(&fl, o->train, o->exclude, key, "text files");
    for (size_t i = 0; rc == 0 && i < fl.n; i++)
        rc = read_file(fl.paths[i], &buf, &len, &cap, key);
    file_list_free(&fl);
    int64_t cut = len - (int64_t)((double)len * o->val_fraction);
    if (rc == 0)
        rc = mem_budget_check(2 * (uint64_t)len, 0, 1, "data.train: the text", NULL);
    if (rc == 0 && cut < (int64_t)t + 1)
        rc = err_set("%s = %s: its training part, %lld bytes, is shorter than a window of %d "
                     "(block_size + 1)",
                     key, o->train, (long long)cut, t + 1);
    if (rc == 0 && val && len - cut < (int64_t)t + 1)
        rc = err_set("%s = %s: its validation part (val_fraction %g), %lld bytes, is shorter "
                     "than a window of %d (block_size + 1): raise val_fraction, or set it to 0 "
                     "for none",
                     key, o->train, o->val_fraction, (long long)(len - cut), t + 1);
    int64_t val_len = len - cut;
    if (rc == 0 && val)
        rc = eval_part(o, t, &val_len);
    if (rc == 0)
        rc = make_split(train, buf, cut, t, 1, "data.train");
    if (rc == 0 && val && make_split(val, buf + cut, val_len, t, t, "data.val") < 0) {
        text_close(train);
        rc = -1;
    }
    free(buf);
    return rc;
}
