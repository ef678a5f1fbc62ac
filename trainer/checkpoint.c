#include "trainer/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/err.h"
#include "util/fsutil.h"
#include "util/h5util.h"

/* ---- writing --------------------------------------------------------------- */

/* Closing a dataspace, datatype or property list frees memory and touches
 * no file: those closes go unchecked. A dataset's, an attribute's and the
 * file's close may write, and are checked. */

/* A scalar attribute of `type` in the file, from `mem_type` data at v. */
static int write_attr(hid_t file, const char *name, hid_t type, hid_t mem_type, const void *v,
                      const char *path)
{
    hid_t space = H5Screate(H5S_SCALAR);
    if (space < 0)
        return h5util_fail("H5Screate", name, path);
    hid_t a = H5Acreate2(file, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = a < 0 ? h5util_fail("H5Acreate2", name, path) : 0;
    if (rc == 0 && H5Awrite(a, mem_type, v) < 0)
        rc = h5util_fail("H5Awrite", name, path);
    if (a >= 0 && H5Aclose(a) < 0 && rc == 0)
        rc = h5util_fail("H5Aclose", name, path);
    H5Sclose(space);
    return rc;
}

static int write_attr_i64(hid_t file, const char *name, int64_t v, const char *path)
{
    return write_attr(file, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, path);
}

static int write_attr_u64(hid_t file, const char *name, uint64_t v, const char *path)
{
    return write_attr(file, name, H5T_STD_U64LE, H5T_NATIVE_UINT64, &v, path);
}

/* Dataset creation properties: no modification times, so the same training
 * state always gives the same bytes (runs can be compared with cmp). */
static hid_t untimed_dcpl(void)
{
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl >= 0 && H5Pset_obj_track_times(dcpl, 0) < 0) {
        H5Pclose(dcpl);
        return -1;
    }
    return dcpl;
}

/* Link creation properties that make the missing groups of `name`'s path;
 * -1 with the error set (the failed call named). */
static hid_t groups_lcpl(const char *name, const char *path)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0)
        return h5util_fail("H5Pcreate", name, path);
    if (H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        H5Pclose(lcpl);
        return h5util_fail("H5Pset_create_intermediate_group", name, path);
    }
    return lcpl;
}

/* Writes a float32 dataset at `name` (intermediate groups created). */
static int write_array(hid_t file, const char *name, hid_t type, hid_t mem_type, const void *data,
                       int rank, const hsize_t *dims, const char *path)
{
    hid_t lcpl = groups_lcpl(name, path);
    if (lcpl < 0)
        return -1;
    hid_t dcpl = untimed_dcpl();
    if (dcpl < 0) {
        H5Pclose(lcpl);
        return h5util_fail("H5Pset_obj_track_times", name, path);
    }
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = space < 0 ? -1 : H5Dcreate2(file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    int rc = 0;
    if (space < 0)
        rc = h5util_fail("H5Screate_simple", name, path);
    else if (d < 0)
        rc = h5util_fail("H5Dcreate2", name, path);
    else if (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = h5util_fail("H5Dwrite", name, path);
    if (d >= 0 && H5Dclose(d) < 0 && rc == 0)
        rc = h5util_fail("H5Dclose", name, path);
    if (space >= 0)
        H5Sclose(space);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    return rc;
}

static int write_floats(hid_t file, const char *name, const float *data, int rank,
                        const hsize_t *dims, const char *path)
{
    return write_array(file, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, data, rank, dims, path);
}

/* The run's tokenizer.json, its bytes verbatim (uint8), where it has one. */
static int write_tokenizer(hid_t file, const ckpt_state *st, const char *path)
{
    if (!st->tokenizer || st->tokenizer_len == 0)
        return 0;
    hsize_t dims[1] = {st->tokenizer_len};
    return write_array(file, "/tokenizer", H5T_STD_U8LE, H5T_NATIVE_UCHAR, st->tokenizer, 1, dims,
                       path);
}

/* Writes a scalar dataset of `type` (file) from `mem_type` data. */
static int write_scalar(hid_t file, const char *name, hid_t type, hid_t mem_type, const void *data,
                        const char *path)
{
    hid_t lcpl = groups_lcpl(name, path);
    if (lcpl < 0)
        return -1;
    hid_t dcpl = untimed_dcpl();
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t d =
        dcpl < 0 || space < 0 ? -1 : H5Dcreate2(file, name, type, space, lcpl, dcpl, H5P_DEFAULT);
    int rc = 0;
    if (dcpl < 0)
        rc = h5util_fail("H5Pset_obj_track_times", name, path);
    else if (space < 0)
        rc = h5util_fail("H5Screate", name, path);
    else if (d < 0)
        rc = h5util_fail("H5Dcreate2", name, path);
    else if (H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = h5util_fail("H5Dwrite", name, path);
    if (d >= 0 && H5Dclose(d) < 0 && rc == 0)
        rc = h5util_fail("H5Dclose", name, path);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    H5Pclose(lcpl);
    return rc;
}

static int write_string(hid_t file, const char *name, const char *text, const char *path)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type < 0)
        return h5util_fail("H5Tcopy", name, path);
    if (H5Tset_size(type, strlen(text) + 1) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0) {
        H5Tclose(type);
        return h5util_fail("H5Tset_size/H5Tset_cset", name, path);
    }
    int rc = write_scalar(file, name, type, type, text, path);
    H5Tclose(type);
    return rc;
}

/* The random state (see checkpoint.h): the seed, and how it is used. */
static int write_rng_state(hid_t file, uint64_t seed, const char *path)
{
    if (write_scalar(file, "/state/rng_seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &seed, path) < 0)
        return -1;
    return write_string(file, "/state/rng",
                        "philox4x32-10; key = rng_seed; counter = (index, stream, step): "
                        "stateless, so the seed and the step attributes are the whole state",
                        path);
}

void ckpt_tensor_place(const char *root, const layer *l, const layer_tensor *x, char *name,
                       size_t size, unsigned long long *dims)
{
    for (int d = 0; d < x->rank; d++)
        dims[d] = (unsigned long long)x->dims[d];
    snprintf(name, size, "%s/%s/%s", root, l->name, x->name);
}

/* Writes every tensor of the model under `root`: trained ones from the flat
 * buffer `flat`, and, when state is not NULL, the kept ones from it (the
 * optimizer's trees have no state). */
static int write_tree(hid_t file, const char *root, const model *m, const float *flat,
                      const float *state, const char *path)
{
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        for (int t = 0; t < l->n_tensors; t++) {
            const layer_tensor *x = &l->tensors[t];
            if (x->state && !state)
                continue;
            char name[256];
            hsize_t dims[4];
            ckpt_tensor_place(root, l, x, name, sizeof name, dims);
            const float *src = (x->state ? state : flat) + x->offset;
            if (write_floats(file, name, src, x->rank, dims, path) < 0)
                return -1;
        }
    }
    return 0;
}

static int write_attrs(hid_t file, const ckpt_state *st, const char *path)
{
    if (write_attr_i64(file, "format_version", CKPT_FORMAT_VERSION, path) < 0 ||
        write_attr_i64(file, "step", st->step, path) < 0 ||
        write_attr_i64(file, "epoch", st->epoch, path) < 0 ||
        write_attr_i64(file, "step_in_epoch", st->step_in_epoch, path) < 0 ||
        write_attr_i64(file, "samples_seen", st->samples_seen, path) < 0 ||
        write_attr_i64(file, "world_size", st->world_size, path) < 0 ||
        write_attr_i64(file, "batch_size", st->batch_size, path) < 0 ||
        write_attr_i64(file, "cpu_threads", st->cpu_threads, path) < 0 ||
        write_attr_u64(file, "seed", st->seed, path) < 0)
        return -1;
    return 0;
}

float *ckpt_stage(const model *m)
{
    size_t n = m->n_params;
    float *host = malloc(sizeof(float) * (ckpt_host_floats(m) + 1));
    if (!host) {
        err_set("out of host memory for a checkpoint of %zu parameters", n);
        return NULL;
    }
    backend *be = m->be;
    if (be->download(be, host, m->params, sizeof(float) * n) < 0 ||
        (!m->shard && (be->download(be, host + n, m->adam_m, sizeof(float) * n) < 0 ||
                       be->download(be, host + 2 * n, m->adam_v, sizeof(float) * n) < 0)) ||
        be->download(be, host + 3 * n, m->state, sizeof(float) * m->n_state) < 0) {
        free(host);
        return NULL;
    }
    return host;
}

/* Builds the whole file in memory (HDF5's core driver, no backing store):
 * HDF5 then never writes to disk, so a full disk or a size limit shows up in
 * our own write(), with its errno, and cannot leave HDF5 half-closed. */
static int build_image(const char *name, const model *m, const config *cfg, const ckpt_state *st,
                       const float *host, void **image, size_t *size)
{
    size_t n = m->n_params;
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0)
        return h5util_fail("H5Pset_fapl_core", "/", name);
    hid_t file = H5Fcreate(name, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file < 0)
        return h5util_fail("H5Fcreate", "/", name);
    int rc = write_tree(file, "/model", m, host, host + 3 * n, name);
    if (rc == 0)
        rc = write_tree(file, "/optimizer/m", m, host + n, NULL, name);
    if (rc == 0)
        rc = write_tree(file, "/optimizer/v", m, host + 2 * n, NULL, name);
    if (rc == 0)
        rc = write_string(file, "/config", cfg->text ? cfg->text : "", name);
    if (rc == 0)
        rc = write_tokenizer(file, st, name);
    if (rc == 0)
        rc = write_rng_state(file, st->seed, name);
    if (rc == 0)
        rc = write_attrs(file, st, name);
    if (rc == 0 && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        rc = h5util_fail("H5Fflush", "/", name);
    ssize_t bytes = rc == 0 ? H5Fget_file_image(file, NULL, 0) : -1;
    if (rc == 0 && bytes < 0)
        rc = h5util_fail("H5Fget_file_image", "/", name);
    /* the header goes in front: HDF5 finds its superblock after it */
    *size = rc == 0 ? CKPT_HEADER_BYTES + (size_t)bytes : 0;
    if (rc == 0 && !(*image = malloc(*size)))
        rc = err_set("out of host memory for a checkpoint image of %zu bytes", *size);
    if (rc == 0 && H5Fget_file_image(file, (char *)*image + CKPT_HEADER_BYTES, (size_t)bytes) < 0)
        rc = h5util_fail("H5Fget_file_image", "/", name);
    if (rc == 0)
        ckpt_seal(*image, *size);
    if (H5Fclose(file) < 0 && rc == 0)
        rc = h5util_fail("H5Fclose", "/", name);
    return rc;
}

int ckpt_save(const char *dir, const model *m, const config *cfg, const ckpt_state *st, char *path,
              size_t size)
{
    if (m->shard)
        return err_set("a checkpoint of sharded moments needs them gathered (ckpt_stage)");
    float *host = ckpt_stage(m);
    if (!host)
        return -1;
    int rc = ckpt_save_staged(dir, m, cfg, st, host, path, size);
    free(host);
    return rc;
}

int ckpt_save_staged(const char *dir, const model *m, const config *cfg, const ckpt_state *st,
                     const float *host, char *path, size_t size)
{
    h5util_quiet();
    char tmp[4096];
    ckpt_path(dir, st->step, path, size);
    snprintf(tmp, sizeof tmp, "%s/.ckpt-%lld.h5.tmp.%ld", dir, (long long)st->step, (long)getpid());
    void *image = NULL;
    size_t bytes = 0;
    int rc = build_image(tmp, m, cfg, st, host, &image, &bytes);
    if (rc == 0)
        rc = fs_write_file(tmp, image, bytes);
    free(image);
    if (rc == 0)
        rc = fs_commit(tmp, path);
    if (rc < 0) {
        unlink(tmp); /* the earlier checkpoints stay as they were */
        err_prefix("checkpoint %s", path);
    }
    return rc;
}

/* ---- listing and pruning ------------------------------------------------ */

/* The step of a file named ckpt-<step>.h5, or -1 for any other name. */
static int64_t ckpt_name_step(const char *name)
{
    if (strncmp(name, "ckpt-", 5) != 0)
        return -1;
    char *end;
    long long step = strtoll(name + 5, &end, 10);
    if (end == name + 5 || step < 0 || strcmp(end, ".h5") != 0)
        return -1;
    return step;
}

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
}

int ckpt_list(const char *dir, int64_t **steps, size_t *count)
{
    *steps = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d)
        return err_errno("cannot list checkpoint directory %s", dir);
    size_t cap = 0;
    struct dirent *e;
    /* errno tells a failed readdir from the end of the directory */
    while ((errno = 0, e = readdir(d))) {
        int64_t s = ckpt_name_step(e->d_name);
        if (s < 0)
            continue;
        if (*count == cap) {
            int64_t *ns = realloc(*steps, sizeof *ns * (cap = cap ? 2 * cap : 16));
            if (!ns) {
                closedir(d);
                free(*steps);
                *steps = NULL;
                return err_set("out of memory listing %s", dir);
            }
            *steps = ns;
        }
        (*steps)[(*count)++] = s;
    }
    /* a listing cut short could pass over the newest checkpoint */
    int rc = errno ? err_errno("cannot list checkpoint directory %s", dir) : 0;
    closedir(d);
    if (rc < 0) {
        free(*steps);
        *steps = NULL;
        *count = 0;
        return -1;
    }
    if (*count > 1) /* an empty directory's list is NULL, which qsort may not take */
        qsort(*steps, *count, sizeof **steps, cmp_desc);
    return 0;
}

void ckpt_path(const char *dir, int64_t step, char *path, size_t size)
{
    snprintf(path, size, "%s/ckpt-%lld.h5", dir, (long long)step);
}

/* Temporary files are named .ckpt-<step>.h5.tmp.<pid>. */
int ckpt_clean_temps(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return err_errno("cannot list checkpoint directory %s", dir);
    struct dirent *e;
    int rc = 0;
    while ((errno = 0, e = readdir(d))) { /* errno: as in ckpt_list */
        const char *tag = strstr(e->d_name, ".h5.tmp.");
        if (strncmp(e->d_name, ".ckpt-", 6) != 0 || !tag)
            continue;
        long pid = strtol(tag + 8, NULL, 10);
        if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
            continue; /* its writer may still be at work */
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) < 0 && rc == 0)
            rc = err_errno("cannot delete the stale temporary file %s", path);
    }
    if (errno && rc == 0)
        rc = err_errno("cannot list checkpoint directory %s", dir);
    closedir(d);
    return rc;
}

int ckpt_prune(const char *dir, int keep)
{
    int64_t *steps;
    size_t n;
    if (ckpt_list(dir, &steps, &n) < 0)
        return -1;
    int rc = 0;
    for (size_t i = (size_t)keep; i < n; i++) {
        char path[4096];
        ckpt_path(dir, steps[i], path, sizeof path);
        if (unlink(path) < 0 && rc == 0)
            rc = err_errno("cannot delete old checkpoint %s", path);
    }
    free(steps);
    return rc;
}
