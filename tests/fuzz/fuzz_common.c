#include "fuzz_common.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"

/* The sanitizers' settings live in the harness, so that running one by hand
 * on a saved input (./fuzz_idx crash-...) behaves as under ctest.
 *
 * A reader may ask for a buffer as large as its file's header announces,
 * before it can know the file is short: on a real machine that malloc
 * fails, or succeeds lazily, and the reader reports an error. So requests
 * above 1 GiB fail here as they would there (allocator_may_return_null),
 * rather than stop the fuzzer; libFuzzer's own -malloc_limit_mb, set above
 * that, then never fires, and -rss_limit_mb still catches memory actually
 * used. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1:max_allocation_size_mb=1024:detect_leaks=1";
}

/* The project's suppressions (memory libhdf5 and Open MPI keep for the life
 * of the process); ACCEL_LSAN_SUPP is tests/lsan.supp, set by CMake. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void)
{
    return "suppressions=" ACCEL_LSAN_SUPP ":print_suppressions=0";
}

const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "print_stacktrace=1:halt_on_error=1";
}

enum { MAX_FILES = 4, PATH_BYTES = 256 };

static char paths[MAX_FILES][PATH_BYTES];
static int n_paths;

static void remove_files(void)
{
    for (int i = 0; i < n_paths; i++)
        unlink(paths[i]);
}

const char *fuzz_path(const char *name)
{
    char want[PATH_BYTES];
    const char *tmp = getenv("TMPDIR");
    snprintf(want, sizeof want, "%s/accel-fuzz-%ld-%s", tmp && *tmp ? tmp : "/tmp", (long)getpid(),
             name);
    for (int i = 0; i < n_paths; i++)
        if (!strcmp(paths[i], want))
            return paths[i];
    if (n_paths == MAX_FILES) {
        fprintf(stderr, "fuzz_path: more than %d scratch files\n", MAX_FILES);
        abort();
    }
    if (n_paths == 0)
        atexit(remove_files);
    snprintf(paths[n_paths], PATH_BYTES, "%s", want);
    return paths[n_paths++];
}

const char *fuzz_write(const char *name, const void *data, size_t len)
{
    const char *path = fuzz_path(name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fprintf(stderr, "fuzz_write: %s: %s\n", path, strerror(errno));
        abort();
    }
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "fuzz_write: %s: %s\n", path, strerror(errno));
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
    if (close(fd) < 0) {
        fprintf(stderr, "fuzz_write: %s: %s\n", path, strerror(errno));
        abort();
    }
    return path;
}

/* See fuzz_gather: samples above this many values are legal (the HDF5
 * reader allows up to 2^29) but are only memory. */
enum { MAX_GATHER_FEATURES = 1 << 20 };

/* Aborts unless each of the n ids is in [0, classes). */
static void check_ids(const dataset *ds, const int32_t *id, size_t n, const char *what,
                      const char *harness)
{
    for (size_t i = 0; i < n; i++)
        if (id[i] < 0 || id[i] >= ds->classes) {
            fprintf(stderr, "%s: %s %d read, outside [0, %d) (the split's classes)\n", harness,
                    what, id[i], ds->classes);
            abort();
        }
}

/* Gathers count samples of idx; when they are read (0), checks what came. */
static int gather_checked(dataset *ds, const int64_t *idx, int count, float *x, int32_t *y,
                          const char *harness)
{
    if (dataset_gather(ds, idx, count, x, y) != 0)
        return -1;
    size_t n = (size_t)count * (size_t)ds->targets;
    check_ids(ds, y, n, ds->tokens ? "target" : "label", harness);
    if (ds->tokens) /* token ids in x's place */
        check_ids(ds, (const int32_t *)x, (size_t)count * (size_t)ds->features, "token", harness);
    return 0;
}

void fuzz_gather(dataset *ds, const char *harness)
{
    if (ds->features > MAX_GATHER_FEATURES || ds->targets > MAX_GATHER_FEATURES)
        return;
    const int64_t one = 0, idx[4] = {ds->n - 1, 0, ds->n - 1, ds->n / 2};
    float *x = malloc(sizeof(float) * 4 * (size_t)ds->features);
    int32_t *y = malloc(sizeof(int32_t) * 4 * (size_t)ds->targets);
    if (!x || !y) {
        free(x);
        free(y);
        return;
    }
    if (gather_checked(ds, &one, 1, x, y, harness) == 0)
        gather_checked(ds, idx, 4, x, y, harness);
    const int64_t past = ds->n;
    if (dataset_gather(ds, &past, 1, x, y) == 0) {
        fprintf(stderr, "%s: sample %lld of %lld was not refused\n", harness, (long long)past,
                (long long)ds->n);
        abort();
    }
    free(x);
    free(y);
}

void fuzz_dataset(const config *cfg, const char *spec, const char *harness)
{
    dataset *ds;
    dataset_options o = config_dataset_options(cfg);
    if (dataset_open(&ds, &o, spec, "data.train") == 0) {
        fuzz_gather(ds, harness);
        dataset_close(ds);
    }
    err_clear();
}

void fuzz_splits(const dataset_options *o, const char *harness)
{
    dataset *train, *test;
    if (dataset_open_splits(&train, &test, o) == 0) {
        fuzz_gather(train, harness);
        if (test)
            fuzz_gather(test, harness);
        dataset_close(train);
        dataset_close(test);
    }
    err_clear();
}

/* Which identifiers a reader opened and did not close. HDF5 1.10 counts
 * the objects of open files (H5Fget_obj_count) but refuses to count its own
 * kinds of identifier (H5Inmembers on a dataspace: "cannot call public
 * function on library type"). Identifiers of a kind are numbered in
 * sequence, though, so one made and closed before the input and one after
 * bound the numbers the reader's came from; H5Iis_valid says whether each
 * is still open. */
enum { KIND_SPACE, KIND_TYPE, KIND_PLIST, N_KINDS };
static const char *const kind_name[N_KINDS] = {"dataspace", "datatype", "property list"};
static hid_t mark[N_KINDS];

static void fail(const char *call)
{
    fprintf(stderr, "fuzz_h5: %s failed\n", call);
    abort();
}

/* A fresh identifier of the kind, closed again: its number marks the
 * sequence. */
static hid_t probe(int kind)
{
    hid_t id;
    switch (kind) {
    case KIND_SPACE:
        if ((id = H5Screate(H5S_SCALAR)) < 0 || H5Sclose(id) < 0)
            fail("H5Screate");
        return id;
    case KIND_TYPE:
        if ((id = H5Tcopy(H5T_NATIVE_INT)) < 0 || H5Tclose(id) < 0)
            fail("H5Tcopy");
        return id;
    default:
        if ((id = H5Pcreate(H5P_DATASET_ACCESS)) < 0 || H5Pclose(id) < 0)
            fail("H5Pcreate");
        return id;
    }
}

void fuzz_h5_begin(void)
{
    for (int k = 0; k < N_KINDS; k++)
        mark[k] = probe(k);
}

void fuzz_h5_check(const char *what)
{
    ssize_t open = H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL);
    if (open != 0) {
        fprintf(stderr,
                "%s: %zd HDF5 file(s) or object(s) in them left open after the input (a leak "
                "in the reader)\n",
                what, open);
        abort();
    }
    for (int k = 0; k < N_KINDS; k++) {
        hid_t end = probe(k);
        for (hid_t id = mark[k] + 1; id < end; id++)
            if (H5Iis_valid(id) > 0) {
                fprintf(stderr,
                        "%s: HDF5 %s identifier %lld left open after the input (a leak in the "
                        "reader)\n",
                        what, kind_name[k], (long long)id);
                abort();
            }
    }
}
