/* placement: the line that says which host holds which ranks. */
#include "comm/placement.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fault.h"

/* A line being written: once it is full, further text is dropped and the
 * line ends in "...". */
typedef struct {
    char *buf;
    size_t size, used;
    bool full;
} line;

static void put(line *l, const char *fmt, ...)
{
    if (l->full)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->used, l->size - l->used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= l->size - l->used) {
        l->full = true;
        if (l->size >= 4)
            memcpy(l->buf + l->size - 4, "...", 4);
        return;
    }
    l->used += (size_t)n;
}

static const char *host_of(const char *hosts, int r)
{
    return hosts + (size_t)r * COMM_HOST_MAX;
}

/* The ranks on rank first's host, from first on, as ranges: "ranks 0-1, 4". */
static void put_ranks(line *l, const char *hosts, int n, int first)
{
    const char *host = host_of(hosts, first);
    int count = 0;
    for (int r = first; r < n; r++)
        count += !strcmp(host_of(hosts, r), host);
    put(l, count == 1 ? "rank " : "ranks ");
    for (int r = first, listed = 0; r < n; r++) {
        if (strcmp(host_of(hosts, r), host))
            continue;
        int last = r;
        while (last + 1 < n && !strcmp(host_of(hosts, last + 1), host))
            last++;
        put(l, listed ? ", %d" : "%d", r);
        if (last > r)
            put(l, "-%d", last);
        listed = 1;
        r = last;
    }
}

/* Whether a rank below r is on r's host. */
static bool seen_before(const char *hosts, int r)
{
    for (int q = 0; q < r; q++)
        if (!strcmp(host_of(hosts, q), host_of(hosts, r)))
            return true;
    return false;
}

int comm_placement_text(const char *hosts, int n, char *buf, size_t size)
{
    int count = 0;
    for (int r = 0; r < n; r++)
        count += !seen_before(hosts, r);
    line l = {.buf = buf, .size = size};
    if (size)
        buf[0] = 0;
    put(&l, "ranks on %d node%s: ", count, count == 1 ? "" : "s");
    for (int r = 0, listed = 0; r < n; r++) {
        if (seen_before(hosts, r))
            continue;
        put(&l, listed ? ", %s (" : "%s (", host_of(hosts, r));
        put_ranks(&l, hosts, n, r);
        put(&l, ")");
        listed = 1;
    }
    return count;
}

int comm_placement(const comm_info *ci, char *buf, size_t size)
{
    /* A rank without a name still takes part in the gather: the line only
     * informs. One without memory for it votes so at the gate, else its
     * peers would wait in the gather. */
    char mine[COMM_HOST_MAX] = "";
    if (gethostname(mine, sizeof mine - 1) < 0)
        snprintf(mine, sizeof mine, "?");
    char *all = fault_at("placement") ? NULL : calloc((size_t)ci->size, COMM_HOST_MAX);
    int rc = all ? 0 : err_set("out of host memory for the ranks' host names");
    if (comm_gate(ci, rc) < 0) {
        free(all);
        return -1;
    }
    rc = comm_allgather(mine, all, COMM_HOST_MAX);
    if (rc == 0)
        rc = comm_placement_text(all, ci->size, buf, size);
    free(all);
    return rc;
}
