/* datafiles: the paths of the data keys, a superset of what is read (see
 * datafiles.h). */
#include "data/datafiles.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "util/err.h"

typedef struct {
    datafiles_fn fn;
    void *ctx;
    const char *key;
} walk;

/* path long enough for an entry of a spec and a file name in it */
enum { PATH_MAX_HERE = DATASET_SPEC_MAX + 256 };

/* Hands path to fn when something is there. What cannot be looked at is
 * passed over: this process cannot read it either. */
static int visit(walk *w, const char *path, struct stat *st)
{
    if (stat(path, st) < 0)
        return 1; /* nothing there */
    return w->fn(w->ctx, path, w->key, S_ISDIR(st->st_mode));
}

/* The regular files directly in dir (through links: a superset of the
 * readers', which take links to files or not, by format). */
static int visit_dir(walk *w, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_errno("%s: cannot list directory %s", w->key, dir);
    int rc = 0;
    /* errno tells a failed readdir from the end of the directory: a listing
     * cut short would leave data files unguarded */
    for (struct dirent *e; rc == 0 && (errno = 0, e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[PATH_MAX_HERE];
        struct stat st;
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (n < 0 || (size_t)n >= sizeof path)
            continue; /* too long for the readers too */
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            rc = w->fn(w->ctx, path, w->key, false);
    }
    if (rc == 0 && errno)
        rc = err_errno("%s: cannot list directory %s", w->key, dir);
    closedir(d); /* a directory opened for reading: nothing to lose */
    return rc < 0 ? -1 : 0;
}

/* The files a glob pattern matches. A directory it matches is not read
 * (filelist.c takes regular files alone), so it is no data directory: a
 * run directory may be one. */
static int visit_glob(walk *w, const char *pattern)
{
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH)
        return 0; /* opening the data says so */
    if (rc != 0)
        return err_set("%s: cannot expand %s (%s)", w->key, pattern,
                       rc == GLOB_NOSPACE ? "out of memory" : "a read error");
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) == 0 && !S_ISDIR(st.st_mode))
            rc = w->fn(w->ctx, g.gl_pathv[i], w->key, false);
    }
    globfree(&g);
    return rc;
}

/* An IDX split's files, where the entry is their prefix. */
static int visit_idx(walk *w, const char *prefix)
{
    static const char *const names[] = {"-images-idx3-ubyte", "-images-idx3-ubyte.gz",
                                        "-labels-idx1-ubyte", "-labels-idx1-ubyte.gz"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[PATH_MAX_HERE];
        struct stat st;
        int n = snprintf(path, sizeof path, "%s%s", prefix, names[i]);
        if (n < 0 || (size_t)n >= sizeof path)
            continue; /* too long for the reader too */
        if (visit(w, path, &st) < 0)
            return -1;
    }
    return 0;
}

static int visit_entry(walk *w, const char *entry, data_format_kind format)
{
    if (strpbrk(entry, "*?["))
        return visit_glob(w, entry);
    if (format == DATA_IDX && visit_idx(w, entry) < 0)
        return -1;
    struct stat st;
    int rc = visit(w, entry, &st);
    if (rc < 0)
        return -1;
    return rc == 0 && S_ISDIR(st.st_mode) ? visit_dir(w, entry) : 0;
}

static int visit_spec(walk *w, const char *spec, data_format_kind format)
{
    char entries[DATASET_SPEC_MAX];
    snprintf(entries, sizeof entries, "%s", spec); /* config.c keeps specs within it */
    for (char *save, *e = strtok_r(entries, ",", &save); e; e = strtok_r(NULL, ",", &save))
        if (visit_entry(w, e, format) < 0)
            return -1;
    return 0;
}

int datafiles_each(const dataset_options *o, datafiles_fn fn, void *ctx)
{
    walk train = {fn, ctx, "data.train"}, test = {fn, ctx, "data.test"};
    if (visit_spec(&train, o->train, o->format) < 0 || visit_spec(&test, o->test, o->format) < 0)
        return -1;
    return 0;
}
