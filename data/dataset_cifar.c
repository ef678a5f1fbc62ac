/* dataset_cifar: CIFAR-10 binary batches (Krizhevsky, "Learning Multiple
 * Layers of Features from Tiny Images", 2009). A file is a run of records of
 * one label byte and 3 x 32 x 32 pixel bytes, channel-major (1024 red, 1024
 * green, 1024 blue): already NCHW, so records are copied as they are. The
 * real files hold 10000 records each; any whole number is accepted. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset_formats.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/membudget.h"

#define CIFAR_PIXELS    3072
#define CIFAR_RECORD    (1 + CIFAR_PIXELS)
#define CIFAR_CLASSES   10
#define CIFAR_MAX_FILES 64
#define CIFAR_PATH_MAX  (DATASET_SPEC_MAX + 300)

typedef struct {
    int count;
    char path[CIFAR_MAX_FILES][CIFAR_PATH_MAX];
    int64_t records[CIFAR_MAX_FILES];
} cifar_files;

static int add_file(cifar_files *fl, const char *key, const char *path, size_t len)
{
    if (fl->count == CIFAR_MAX_FILES)
        return err_set("%s: more than %d CIFAR-10 files", key, CIFAR_MAX_FILES);
    if (len == 0 || len >= CIFAR_PATH_MAX)
        return err_set("%s: %s file name in the list", key, len ? "a too long" : "an empty");
    snprintf(fl->path[fl->count++], CIFAR_PATH_MAX, "%.*s", (int)len, path);
    return 0;
}

static int list_from_spec(cifar_files *fl, const char *spec, const char *key)
{
    for (const char *p = spec;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (add_file(fl, key, p, len) < 0)
            return -1;
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

/* data_batch_*.bin for training, test_batch.bin for anything else. */
static bool wanted(const char *name, bool train)
{
    if (!train)
        return strcmp(name, "test_batch.bin") == 0;
    size_t len = strlen(name);
    return strncmp(name, "data_batch_", 11) == 0 && len > 15 && strcmp(name + len - 4, ".bin") == 0;
}

static int by_path(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The directory's batches for `key`, sorted by name so the sample order
 * does not depend on the file system. */
static int list_from_dir(cifar_files *fl, const char *dir, const char *key)
{
    bool train = strcmp(key, "data.train") == 0;
    DIR *d = opendir(dir);
    if (!d)
        return err_errno("%s = %s: cannot open the directory", key, dir);
    int rc = 0;
    char path[CIFAR_PATH_MAX];
    /* errno tells a failed readdir from the end of the directory */
    for (struct dirent *e; rc == 0 && (errno = 0, e = readdir(d));) {
        if (!wanted(e->d_name, train))
            continue;
        int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        rc = add_file(fl, key, path, n < 0 ? 0 : (size_t)n);
    }
    if (rc == 0 && errno) /* a listing cut short would leave batches out */
        rc = err_errno("%s = %s: cannot list the directory", key, dir);
    closedir(d);
    if (rc < 0)
        return -1;
    if (fl->count == 0)
        return err_set("%s = %s: the directory has no %s", key, dir,
                       train ? "data_batch_*.bin" : "test_batch.bin");
    qsort(fl->path, (size_t)fl->count, sizeof fl->path[0], by_path);
    return 0;
}

/* Counts each file's records, insisting on whole ones. */
static int count_records(cifar_files *fl, const char *key, int64_t *total)
{
    *total = 0;
    for (int i = 0; i < fl->count; i++) {
        struct stat st;
        if (stat(fl->path[i], &st) < 0)
            return err_errno("%s: cannot open %s", key, fl->path[i]);
        if (!S_ISREG(st.st_mode)) /* told before any file is read */
            return err_set("%s: %s is %s, not a regular file", key, fl->path[i],
                           fs_not_regular(st.st_mode));
        if (st.st_size == 0 || st.st_size % CIFAR_RECORD != 0)
            return err_set("%s: %s: %lld bytes is not a whole number of %d-byte CIFAR-10 records "
                           "(truncated?)",
                           key, fl->path[i], (long long)st.st_size, CIFAR_RECORD);
        fl->records[i] = st.st_size / CIFAR_RECORD;
        *total += fl->records[i];
    }
    return 0;
}

/* Opens a file counted before, again a regular one: the path may name
 * another file by now, and open() of a FIFO would block. */
static FILE *open_batch(const char *path, const char *key)
{
    struct stat st;
    int fd = fs_open_regular(path, &st);
    if (fd < 0) {
        err_prefix("%s", key);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        err_errno("%s: cannot open %s", key, path);
        close(fd);
    }
    return f;
}

/* Reads one file's records into pixels and labels. */
static int read_file(const char *path, int64_t records, const char *key, uint8_t *pixels,
                     uint8_t *labels)
{
    FILE *f = open_batch(path, key);
    if (!f)
        return -1;
    unsigned char rec[CIFAR_RECORD];
    int rc = 0;
    for (int64_t r = 0; rc == 0 && r < records; r++) {
        if (fread(rec, 1, sizeof rec, f) != sizeof rec)
            rc = err_set("%s: %s: %s at record %lld", key, path,
                         ferror(f) ? "read error" : "truncated", (long long)r);
        else if (rec[0] >= CIFAR_CLASSES)
            rc = err_set("%s: %s: record %lld has label %d, expected 0..%d", key, path,
                         (long long)r, rec[0], CIFAR_CLASSES - 1);
        else {
            labels[r] = rec[0];
            memcpy(pixels + (size_t)r * CIFAR_PIXELS, rec + 1, CIFAR_PIXELS);
        }
    }
    fclose(f);
    return rc;
}

static int read_all(const cifar_files *fl, int64_t total, dataset *ds, const char *key)
{
    char what[96];
    snprintf(what, sizeof what, "%s: its %lld images", key, (long long)total);
    if (mem_budget_check((uint64_t)total * (CIFAR_PIXELS + 1), 0, 1, what, NULL) < 0)
        return -1;
    uint8_t *pixels = malloc((size_t)total * CIFAR_PIXELS);
    uint8_t *labels = malloc((size_t)total);
    if (!pixels || !labels) {
        free(pixels);
        free(labels);
        return err_set("%s: out of memory for %lld CIFAR-10 images", key, (long long)total);
    }
    int64_t at = 0;
    for (int i = 0; i < fl->count; i++) {
        if (read_file(fl->path[i], fl->records[i], key, pixels + (size_t)at * CIFAR_PIXELS,
                      labels + at) < 0) {
            free(pixels);
            free(labels);
            return -1;
        }
        at += fl->records[i];
    }
    return dataset_mem_wrap(ds, key, total, 3, 32, 32, pixels, labels);
}

int dataset_open_cifar10(dataset *ds, const char *spec, const char *key)
{
    cifar_files *fl = calloc(1, sizeof *fl);
    if (!fl)
        return err_set("%s: out of memory", key);
    struct stat st;
    bool is_dir = stat(spec, &st) == 0 && S_ISDIR(st.st_mode);
    int64_t total;
    int rc = is_dir ? list_from_dir(fl, spec, key) : list_from_spec(fl, spec, key);
    if (rc == 0)
        rc = count_records(fl, key, &total);
    if (rc == 0)
        rc = read_all(fl, total, ds, key);
    free(fl);
    return rc;
}
