#include "util/outpath.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int outpath_add(outpath_inputs *in, const char *path, const char *fmt, ...)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return 0; /* not there, or not ours to see: nothing this command reads */
    if (in->n == in->cap) {
        size_t cap = in->cap ? 2 * in->cap : 16;
        outpath_input *v = realloc(in->v, sizeof *v * cap);
        if (!v)
            return err_set("out of memory listing the inputs of the command");
        in->v = v;
        in->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *what = len < 0 ? NULL : malloc((size_t)len + 1);
    if (!what)
        return err_set("out of memory listing the inputs of the command");
    va_start(ap, fmt);
    vsnprintf(what, (size_t)len + 1, fmt, ap);
    va_end(ap);
    in->v[in->n++] = (outpath_input){.dev = st.st_dev, .ino = st.st_ino, .what = what};
    return 0;
}

static const outpath_input *find_stat(const outpath_inputs *in, const struct stat *st)
{
    for (size_t i = 0; i < in->n; i++)
        if (in->v[i].dev == st->st_dev && in->v[i].ino == st->st_ino)
            return &in->v[i];
    return NULL;
}

/* What a file of that mode is, for messages. */
static const char *kind(mode_t mode)
{
    if (S_ISREG(mode))
        return "a regular file";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    return "neither a file nor a directory";
}

/* Looks at path through links: 1 when something is there (*st filled), 0
 * when nothing is (a link to nothing is nothing: a rename replaces the link,
 * a create makes its target, and neither touches an existing file), -1 when
 * it cannot be seen, for then it cannot be written either. */
static int look(const char *label, const char *path, struct stat *st)
{
    if (stat(path, st) == 0)
        return 1;
    if (errno == ENOENT)
        return 0;
    return err_errno("%s%s", label, path);
}

int outpath_check_file(const outpath_inputs *in, const char *label, const char *path,
                       const char *advice)
{
    struct stat st;
    int there = look(label, path, &st);
    if (there <= 0)
        return there;
    const outpath_input *hit = find_stat(in, &st);
    if (hit)
        return err_set("%s%s: is %s; %s", label, path, hit->what, advice);
    if (!S_ISREG(st.st_mode))
        return err_set("%s%s: not a regular file (%s); %s", label, path, kind(st.st_mode), advice);
    return 0;
}

int outpath_check_dir(const outpath_inputs *in, const char *label, const char *path,
                      const char *advice)
{
    struct stat st;
    int there = look(label, path, &st);
    if (there <= 0)
        return there;
    const outpath_input *hit = find_stat(in, &st);
    if (hit)
        return err_set("%s%s: is %s; %s", label, path, hit->what, advice);
    if (!S_ISDIR(st.st_mode))
        return err_set("%s%s: not a directory (%s); %s", label, path, kind(st.st_mode), advice);
    return 0;
}

void outpath_free(outpath_inputs *in)
{
    for (size_t i = 0; i < in->n; i++)
        free(in->v[i].what);
    free(in->v);
    *in = (outpath_inputs){0};
}
