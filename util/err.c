#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char err_buf[ERR_MSG_MAX];

/* err_buf = a + ": " + b, cut to fit. (a and b must not be err_buf.) */
static void join(const char *a, const char *b)
{
    size_t cap = sizeof err_buf - 1;
    size_t la = strnlen(a, cap);
    memcpy(err_buf, a, la);
    size_t used = la;
    for (const char *sep = ": "; *sep && used < cap; sep++)
        err_buf[used++] = *sep;
    size_t lb = strnlen(b, cap - used);
    memcpy(err_buf + used, b, lb);
    err_buf[used + lb] = '\0';
}

/* A message is one line: libraries' texts (HDF5 quotes ctime()) may carry
 * line breaks. */
static int one_line(void)
{
    for (char *p = err_buf; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    return -1;
}

int err_set(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return one_line();
}

int err_prefix(const char *fmt, ...)
{
    char ctx[ERR_MSG_MAX], old[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    join(ctx, old);
    return one_line();
}

int err_errno(const char *fmt, ...)
{
    int saved = errno;
    char what[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    join(what, strerror(saved));
    errno = saved;
    return one_line();
}

const char *err_msg(void)
{
    return err_buf;
}

void err_clear(void)
{
    err_buf[0] = '\0';
}
