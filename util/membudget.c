#include "util/membudget.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "util/err.h"

/* "Key:  N kB" from a /proc file of such lines, in bytes; false if absent. */
static int proc_kb(const char *path, const char *key, uint64_t *bytes)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256];
    size_t klen = strlen(key);
    int found = 0;
    unsigned long long kb;
    while (!found && fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen) && line[klen] == ':' &&
            sscanf(line + klen + 1, "%llu", &kb) == 1) {
            *bytes = (uint64_t)kb * 1024;
            found = 1;
        }
    fclose(f);
    return found;
}

/* A file holding one number; "max" (no limit) and a missing file are false. */
static int read_number(const char *path, uint64_t *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long x;
    int ok = fscanf(f, "%llu", &x) == 1;
    fclose(f);
    if (ok)
        *v = x;
    return ok;
}

static void tighten(mem_budget *b, uint64_t bytes, int shared, const char *source)
{
    if (bytes >= b->bytes)
        return;
    b->bytes = bytes;
    b->shared = shared;
    snprintf(b->source, sizeof b->source, "%s", source);
}

/* One cgroup directory: its limit less its usage. v1 reports no limit as
 * a huge number, which tighten() passes over. */
static void cgroup_dir(mem_budget *b, const char *dir, const char *max_file, const char *usage_file)
{
    char path[4096 + 32], label[256];
    uint64_t max, used;
    /* a path cut short would read another cgroup's figures */
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, max_file) >= sizeof path ||
        !read_number(path, &max))
        return;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, usage_file) >= sizeof path ||
        !read_number(path, &used))
        used = 0;
    snprintf(label, sizeof label, "the limit of the cgroup %.200s", dir);
    tighten(b, max > used ? max - used : 0, 1, label);
}

/* This process's cgroups, from /proc/self/cgroup, and each above it (a
 * limit anywhere up the tree applies). */
static void cgroups(mem_budget *b)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return;
    char line[4096];
    while (fgets(line, sizeof line, f)) {
        /* a line longer than the buffer is one cgroup path too long to
         * follow (what is left of it comes next, without the colons) */
        if (!strchr(line, '\n') && !feof(f))
            continue;
        char *rel = strchr(line, ':');
        rel = rel ? strchr(rel + 1, ':') : NULL;
        if (!rel)
            continue;
        int v2 = !strncmp(line, "0::", 3);
        if (!v2 && !strstr(line, "memory"))
            continue;
        rel[strcspn(rel, "\n")] = '\0';
        const char *base = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
        char dir[4096];
        if ((size_t)snprintf(dir, sizeof dir, "%s%s", base, rel + 1) >= sizeof dir)
            continue; /* cut short, it would name another cgroup */
        /* up to the mount point itself, which in a container without its
         * own cgroup namespace is the container's cgroup */
        for (;;) {
            if (v2)
                cgroup_dir(b, dir, "memory.max", "memory.current");
            else
                cgroup_dir(b, dir, "memory.limit_in_bytes", "memory.usage_in_bytes");
            if (strlen(dir) <= strlen(base))
                break;
            *strrchr(dir, '/') = '\0'; /* the parent: dir is base + "/..." */
        }
    }
    fclose(f);
}

/* "4G", "512M", "1048576": bytes, K, M, G, T being powers of 1024; false
 * for anything else, or a figure past 2^64. */
static int parse_size(const char *text, uint64_t *bytes)
{
    const char *units = "KMGT";
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)text[0]))
        return 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return 0;
    const char *u = *end ? strchr(units, toupper((unsigned char)*end)) : NULL;
    if (*end && (!u || end[1]))
        return 0;
    for (const char *p = units; u && p <= u; p++) {
        if (v > UINT64_MAX / 1024)
            return 0;
        v *= 1024;
    }
    *bytes = v;
    return 1;
}

/* ACCEL_MEM_BUDGET, when set (see membudget.h). */
static void env_budget(mem_budget *b)
{
    const char *text = getenv("ACCEL_MEM_BUDGET");
    if (!text || !text[0]) /* set empty: as unset, as shells make it easy to */
        return;
    uint64_t v;
    char label[256];
    if (parse_size(text, &v)) {
        snprintf(label, sizeof label, "ACCEL_MEM_BUDGET=%.200s in the environment", text);
        tighten(b, v, 0, label);
    } else {
        snprintf(label, sizeof label,
                 "ACCEL_MEM_BUDGET=%.120s in the environment is not a size such as 512M or 4G",
                 text);
        tighten(b, 0, 0, label);
    }
}

void mem_budget_read(mem_budget *b)
{
    b->bytes = UINT64_MAX;
    b->shared = 1;
    snprintf(b->source, sizeof b->source, "no limit found");
    uint64_t v;
    if (proc_kb("/proc/meminfo", "MemAvailable", &v))
        tighten(b, v, 1, "MemAvailable in /proc/meminfo");
    cgroups(b);
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        uint64_t used = 0;
        proc_kb("/proc/self/status", "VmSize", &used);
        tighten(b, rl.rlim_cur > used ? rl.rlim_cur - used : 0, 0,
                "RLIMIT_AS (ulimit -v) less the address space in use");
    }
    env_budget(b);
}

/* a + b, or UINT64_MAX where it overflows */
static uint64_t sum_or_max(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int mem_budget_fits(const mem_budget *b, uint64_t need, uint64_t once, int sharers,
                    const char *what, const char *hint)
{
    const double gib = 1024.0 * 1024.0 * 1024.0;
    uint64_t n = sharers > 1 && b->shared ? (uint64_t)sharers : 1;
    uint64_t total = sum_or_max(need > UINT64_MAX / n ? UINT64_MAX : need * n, once);
    if (b->bytes == UINT64_MAX || total <= b->bytes)
        return 0;
    char figures[160];
    if (n == 1)
        snprintf(figures, sizeof figures, "%.2f GiB", total / gib);
    else if (once == 0)
        snprintf(figures, sizeof figures,
                 "%.2f GiB a rank, %.2f GiB for the %" PRIu64 " ranks on this node", need / gib,
                 total / gib, n);
    else
        snprintf(figures, sizeof figures,
                 "%.2f GiB a rank and %.2f GiB more in rank 0, %.2f GiB for the %" PRIu64
                 " ranks on this node",
                 need / gib, once / gib, total / gib, n);
    return err_set("%s need %s, but %.2f GiB is available (%s)%s%s", what, figures, b->bytes / gib,
                   b->source, hint ? ": " : "", hint ? hint : "");
}

int mem_budget_check(uint64_t need, uint64_t once, int sharers, const char *what, const char *hint)
{
    mem_budget b;
    mem_budget_read(&b);
    return mem_budget_fits(&b, need, once, sharers, what, hint);
}
