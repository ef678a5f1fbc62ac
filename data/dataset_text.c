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
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset_formats.h"
#include "util/err.h"
#include "util/membudget.h"

enum { TEXT_VOCAB = 256 };

typedef struct {
    char **paths;
    size_t n, cap;
} path_list;

typedef struct {
    unsigned char *bytes; /* this split's part of the stream */
    int64_t len;
    int t;      /* tokens a window */
    int stride; /* between windows: 1 (training) or t (validation) */
    char key[64];
} text_split;

static int add_path(path_list *pl, const char *path)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? 2 * pl->cap : 64;
        char **p = realloc(pl->paths, sizeof *p * cap);
        if (!p)
            return err_set("out of memory listing text files");
        pl->paths = p;
        pl->cap = cap;
    }
    if (!(pl->paths[pl->n] = strdup(path)))
        return err_set("out of memory listing text files");
    pl->n++;
    return 0;
}

static void free_paths(path_list *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        free(pl->paths[i]);
    free(pl->paths);
}

/* Whether the file's name matches a pattern of data.exclude. */
static bool excluded(const char *path, const char *exclude)
{
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    char pats[DATASET_SPEC_MAX];
    snprintf(pats, sizeof pats, "%s", exclude);
    for (char *save, *p = strtok_r(pats, ",", &save); p; p = strtok_r(NULL, ",", &save))
        if (fnmatch(p, name, 0) == 0)
            return true;
    return false;
}

/* The regular files directly in dir. */
static int add_dir(path_list *pl, const char *dir, const char *key)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_errno("%s: cannot open directory %s", key, dir);
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d));) {
        char path[DATASET_SPEC_MAX + 256];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.' && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = add_path(pl, path);
    }
    closedir(d);
    return rc;
}

/* One entry of the spec: a file, a directory or a glob pattern. */
static int add_entry(path_list *pl, const char *entry, const char *key)
{
    struct stat st;
    if (strpbrk(entry, "*?[")) {
        glob_t g;
        int rc = glob(entry, 0, NULL, &g);
        if (rc == GLOB_NOMATCH)
            return err_set("%s: no file matches %s", key, entry);
        for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
            if (stat(g.gl_pathv[i], &st) == 0 && S_ISREG(st.st_mode))
                rc = add_path(pl, g.gl_pathv[i]) < 0 ? -1 : 0;
        globfree(&g);
        return rc == 0 ? 0 : rc < 0 ? -1 : err_set("%s: cannot expand %s", key, entry);
    }
    if (stat(entry, &st) < 0)
        return err_errno("%s: cannot open %s", key, entry);
    return S_ISDIR(st.st_mode) ? add_dir(pl, entry, key) : add_path(pl, entry);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of spec, sorted, without the excluded ones. */
static int list_files(path_list *pl, const dataset_options *o, const char *spec, const char *key)
{
    char entries[DATASET_SPEC_MAX];
    snprintf(entries, sizeof entries, "%s", spec);
    for (char *save, *e = strtok_r(entries, ",", &save); e; e = strtok_r(NULL, ",", &save))
        if (add_entry(pl, e, key) < 0)
            return -1;
    size_t kept = 0;
    for (size_t i = 0; i < pl->n; i++) {
        if (excluded(pl->paths[i], o->exclude))
            free(pl->paths[i]);
        else
            pl->paths[kept++] = pl->paths[i];
    }
    pl->n = kept;
    if (pl->n == 0)
        return err_set("%s = %s: no text files (after data.exclude)", key, spec);
    qsort(pl->paths, pl->n, sizeof *pl->paths, by_path);
    return 0;
}

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
    path_list pl = {0};
    unsigned char *buf = NULL;
    int64_t len = 0, cap = 0;
    int rc = list_files(&pl, o, o->train, key);
    for (size_t i = 0; rc == 0 && i < pl.n; i++)
        rc = read_file(pl.paths[i], &buf, &len, &cap, key);
    free_paths(&pl);
    int64_t cut = len - (int64_t)((double)len * o->val_fraction);
    if (rc == 0)
        rc = mem_budget_check(2 * (uint64_t)len, 1, "data.train: the text", NULL);
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
