/* filelist: the files of a spec, sorted (see filelist.h). */
#include "data/filelist.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "data/dataset.h"
#include "util/err.h"
#include "util/fsutil.h"

static int add_path(file_list *pl, const char *path)
{
    if (pl->n == pl->cap) {
        size_t cap = pl->cap ? 2 * pl->cap : 64;
        char **p = realloc(pl->paths, sizeof *p * cap);
        if (!p)
            return err_set("out of memory listing files");
        pl->paths = p;
        pl->cap = cap;
    }
    if (!(pl->paths[pl->n] = strdup(path)))
        return err_set("out of memory listing files");
    pl->n++;
    return 0;
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

/* What a listing (a directory's, a glob's) does with the file at path:
 * takes it (*take) when it is a regular file (following links when
 * follow), passes over a directory (and, not following, a link: the
 * listings' rule), and refuses anything else in one line: a FIFO, a
 * device or a socket among data files is a mistake, and reading it would
 * block or never end. A file gone by now is passed over; one that cannot
 * be looked at is an error: a file passed over in silence would leave the
 * data set smaller than it is. Called for the files data.exclude keeps. */
static int listed(const char *path, bool follow, const char *key, bool *take)
{
    struct stat st;
    *take = false;
    if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
        return errno == ENOENT ? 0 : err_errno("%s: cannot stat %s", key, path);
    if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))
        return 0;
    if (!S_ISREG(st.st_mode))
        return err_set("%s: %s is %s, not a regular file: remove it, or leave it out with "
                       "data.exclude",
                       key, path, fs_not_regular(st.st_mode));
    *take = true;
    return 0;
}

/* The regular files directly in dir that data.exclude keeps. */
static int add_dir(file_list *pl, const char *dir, const char *exclude, const char *key)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_errno("%s: cannot open directory %s", key, dir);
    int rc = 0;
    /* errno tells a failed readdir from the end of the directory */
    for (struct dirent *e; rc == 0 && (errno = 0, e = readdir(d));) {
        char path[DATASET_SPEC_MAX + 256]; /* a spec's entry and a file name fit */
        bool take = false;
        if (e->d_name[0] == '.' || excluded(e->d_name, exclude))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rc = listed(path, false, key, &take);
        if (rc == 0 && take)
            rc = add_path(pl, path);
    }
    if (rc == 0 && errno)
        rc = err_errno("%s: cannot list directory %s", key, dir);
    closedir(d);
    return rc;
}

/* glob's report of a directory it could not read, kept for the message;
 * a missing one (a pattern of a path that is not there) just matches
 * nothing. */
static _Thread_local struct {
    char path[DATASET_SPEC_MAX];
    int err;
} glob_failure;

static int glob_error(const char *path, int err)
{
    if (err == ENOENT || err == ENOTDIR)
        return 0;
    snprintf(glob_failure.path, sizeof glob_failure.path, "%s", path);
    glob_failure.err = err;
    return 1; /* stop: the match would be missing that directory's files */
}

/* The files a glob pattern matches that data.exclude keeps. */
static int add_glob(file_list *pl, const char *pattern, const char *exclude, const char *key)
{
    glob_t g;
    glob_failure.err = 0;
    int rc = glob(pattern, 0, glob_error, &g);
    if (rc == GLOB_NOMATCH)
        return err_set("%s: no file matches %s", key, pattern);
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
        bool take = false;
        if (excluded(g.gl_pathv[i], exclude))
            continue;
        if (listed(g.gl_pathv[i], true, key, &take) < 0)
            rc = -1;
        else if (take)
            rc = add_path(pl, g.gl_pathv[i]) < 0 ? -1 : 0;
    }
    globfree(&g);
    if (rc > 0 && glob_failure.err) {
        errno = glob_failure.err;
        return err_errno("%s: cannot expand %s: cannot read %s", key, pattern, glob_failure.path);
    }
    return rc == 0 ? 0 : rc < 0 ? -1 : err_set("%s: cannot expand %s", key, pattern);
}

/* One entry of the spec: a file, a directory or a glob pattern. A file
 * named outright must be a regular one (or one data.exclude drops). */
static int add_entry(file_list *pl, const char *entry, const char *exclude, const char *key)
{
    struct stat st;
    if (strpbrk(entry, "*?["))
        return add_glob(pl, entry, exclude, key);
    if (stat(entry, &st) < 0)
        return err_errno("%s: cannot open %s", key, entry);
    if (S_ISDIR(st.st_mode))
        return add_dir(pl, entry, exclude, key);
    if (excluded(entry, exclude))
        return 0;
    if (!S_ISREG(st.st_mode))
        return err_set("%s: %s is %s, not a regular file", key, entry, fs_not_regular(st.st_mode));
    return add_path(pl, entry);
}

static int by_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The files of spec that data.exclude keeps, sorted. */
static int list_files(file_list *pl, const char *spec, const char *exclude, const char *key,
                      const char *what)
{
    char entries[DATASET_SPEC_MAX];
    snprintf(entries, sizeof entries, "%s", spec);
    for (char *save, *e = strtok_r(entries, ",", &save); e; e = strtok_r(NULL, ",", &save))
        if (add_entry(pl, e, exclude, key) < 0)
            return -1;
    if (pl->n == 0)
        return err_set("%s = %s: no %s (after data.exclude)", key, spec, what);
    qsort(pl->paths, pl->n, sizeof *pl->paths, by_path);
    return 0;
}

int file_list_open(file_list *fl, const char *spec, const char *exclude, const char *key,
                   const char *what)
{
    *fl = (file_list){0};
    if (list_files(fl, spec, exclude, key, what) < 0) {
        file_list_free(fl);
        return -1;
    }
    return 0;
}

void file_list_free(file_list *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        free(fl->paths[i]);
    free(fl->paths);
    *fl = (file_list){0};
}
