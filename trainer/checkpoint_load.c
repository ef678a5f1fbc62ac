/* checkpoint_load: reading a checkpoint back, checking every part of it
 * against the model the config builds before anything is used. */
#include <hdf5.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/checkpoint.h"
#include "trainer/checkpoint_model.h"
#include "trainer/checkpoint_open.h"
#include "util/err.h"
#include "util/h5probe.h"
#include "util/h5util.h"

/* Reads the root attribute `name` into v (an int64_t, or a uint64_t when
 * is_unsigned) after checking, before HDF5 converts anything, that it is
 * one integer of at most 8 bytes: an array or a null attribute read into
 * one variable would overrun it or leave it unset. Returns 0 or a CKPT_
 * code. */
static int read_attr(hid_t file, const char *name, bool is_unsigned, void *v, const char *path)
{
    htri_t exists = H5Aexists(file, name);
    if (exists < 0)
        return h5util_fail("H5Aexists", name, path);
    if (!exists)
        return err_set("checkpoint %s has no attribute %s", path, name);
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0)
        return h5util_fail("H5Aopen", name, path);
    hid_t space = H5Aget_space(a), type = H5Aget_type(a);
    int rc = 0;
    if (space < 0 || type < 0)
        rc = h5util_fail("H5Aget_space", name, path);
    else if (H5Sget_simple_extent_type(space) != H5S_SCALAR || H5Tget_class(type) != H5T_INTEGER ||
             H5Tget_size(type) > 8)
        rc = err_set("checkpoint %s: attribute %s is not one integer", path, name);
    else if (H5Aread(a, is_unsigned ? H5T_NATIVE_UINT64 : H5T_NATIVE_INT64, v) < 0)
        rc = h5util_fail("H5Aread", name, path);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(a);
    return rc;
}

static int read_attr_i64(hid_t file, const char *name, int64_t *v, const char *path)
{
    return read_attr(file, name, false, v, path);
}

static bool same_shape(int rank, const hsize_t *a, int want_rank, const hsize_t *b)
{
    if (rank != want_rank)
        return false;
    for (int i = 0; i < rank; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* Reads the float dataset `name` into out after checking it has exactly
 * the shape `want`. `layer` names the layer in messages. */
static int read_floats(hid_t file, const char *name, const char *layer, int rank,
                       const hsize_t *want, float *out, const char *path)
{
    /* below 0 too: HDF5 fails, rather than answer 0, when a group on the
     * path (the layer's) is missing */
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        err_set("checkpoint %s has no %s: the config's layer '%s' is not in it", path, name, layer);
        return CKPT_MISMATCH;
    }
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0)
        return h5util_fail("H5Dopen2", name, path);
    hid_t space = H5Dget_space(d);
    hsize_t dims[8] = {0};
    int got = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    int rc = 0;
    if (got < 0 || got > 8 || H5Sget_simple_extent_dims(space, dims, NULL) < 0)
        rc = h5util_fail("H5Sget_simple_extent_dims", name, path);
    else if (!same_shape(got, dims, rank, want)) {
        char have_s[64], want_s[64];
        h5util_shape_text(have_s, sizeof have_s, got, dims);
        h5util_shape_text(want_s, sizeof want_s, rank, want);
        err_set("checkpoint %s: layer '%s': %s is %s in the checkpoint but %s in the "
                "config's model",
                path, layer, strrchr(name, '/') + 1, have_s, want_s);
        rc = CKPT_MISMATCH;
    } else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        rc = h5util_fail("H5Dread", name, path);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(d);
    return rc;
}

/* Reads every tensor of the model from under `root`: trained ones into
 * `flat`, and, when state is not NULL, the kept ones into it. */
static int read_tree(hid_t file, const char *root, const model *m, float *flat, float *state,
                     const char *path)
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
            float *dst = (x->state ? state : flat) + x->offset;
            int rc = read_floats(file, name, l->name, x->rank, dims, dst, path);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

typedef struct {
    const model *m;
    char extra[256]; /* the first layer of the file the model lacks */
} extra_search;

static herr_t find_extra(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)group, (void)info;
    extra_search *s = data;
    for (int i = 0; i < s->m->n_layers; i++)
        if (s->m->layers[i].n_tensors && !strcmp(s->m->layers[i].name, name))
            return 0;
    snprintf(s->extra, sizeof s->extra, "%s", name);
    return 1; /* stop */
}

/* A checkpoint with a layer the config does not have belongs to another
 * model: refuse it rather than silently drop weights. */
static int check_no_extra_layers(hid_t file, const model *m, const char *path)
{
    hid_t g = H5Gopen2(file, "/model", H5P_DEFAULT);
    if (g < 0)
        return h5util_fail("H5Gopen2", "/model", path);
    extra_search s = {.m = m};
    herr_t rc = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, find_extra, &s);
    H5Gclose(g);
    if (rc < 0)
        return h5util_fail("H5Literate", "/model", path);
    if (s.extra[0]) {
        err_set("checkpoint %s has a layer '%s' that the config's model does not", path, s.extra);
        return CKPT_MISMATCH;
    }
    return 0;
}

/* The state's numbers hang together, in 64-bit arithmetic that cannot
 * wrap: a checkpoint that claims an impossible state is refused. */
static int check_state(const ckpt_state *st, const char *path)
{
    int64_t samples;
    if (st->step < 0 || st->epoch < 0 || st->step_in_epoch < 0 || st->step_in_epoch > st->step ||
        st->epoch > st->step)
        return err_set("checkpoint %s: implausible state (step %lld, epoch %lld, step %lld in "
                       "it)",
                       path, (long long)st->step, (long long)st->epoch,
                       (long long)st->step_in_epoch);
    if (st->batch_size < 1 || st->batch_size > INT32_MAX || st->world_size < 1 ||
        st->world_size > INT32_MAX || st->cpu_threads < 0 || st->cpu_threads > INT32_MAX)
        return err_set("checkpoint %s: implausible batch_size %lld, world_size %lld or "
                       "cpu_threads %lld",
                       path, (long long)st->batch_size, (long long)st->world_size,
                       (long long)st->cpu_threads);
    if (__builtin_mul_overflow(st->step, st->batch_size, &samples) || st->samples_seen < 0 ||
        st->samples_seen > samples)
        return err_set("checkpoint %s: samples_seen %lld does not fit step %lld of batch %lld",
                       path, (long long)st->samples_seen, (long long)st->step,
                       (long long)st->batch_size);
    return 0;
}

static int read_state(hid_t file, ckpt_state *st, const char *path)
{
    int64_t version;
    int rc = read_attr_i64(file, "format_version", &version, path);
    if (rc < 0)
        return rc;
    if ((rc = ckpt_check_format(version, path)) < 0)
        return rc;
    st->format = (int)version;
    const struct {
        const char *name;
        int64_t *v;
    } attrs[] = {{"step", &st->step},
                 {"epoch", &st->epoch},
                 {"step_in_epoch", &st->step_in_epoch},
                 {"samples_seen", &st->samples_seen},
                 {"world_size", &st->world_size},
                 {"batch_size", &st->batch_size}};
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
        if ((rc = read_attr_i64(file, attrs[i].name, attrs[i].v, path)) < 0)
            return rc;
    if ((rc = read_attr(file, "seed", true, &st->seed, path)) < 0)
        return rc;
    if ((rc = read_attr_i64(file, "cpu_threads", &st->cpu_threads, path)) < 0)
        return rc;
    return check_state(st, path);
}

/* The first value of n at v that is not finite (or, when nonneg, is
 * negative), or n. */
static size_t first_bad(const float *v, size_t n, bool nonneg)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]) || (nonneg && v[i] < 0))
            return i;
    return n;
}

/* Values that training cannot have made: a NaN or an infinity anywhere, a
 * negative second moment or running variance. Training would go on from
 * them silently (ReLU maps NaN to 0) and write them back. */
static int check_values(const model *m, const float *host, const char *path)
{
    static const char *const trees[] = {"/model", "/optimizer/m", "/optimizer/v"};
    size_t n = m->n_params;
    for (int i = 0; i < m->n_layers; i++) {
        const layer *l = &m->layers[i];
        for (int t = 0; t < l->n_tensors; t++) {
            const layer_tensor *x = &l->tensors[t];
            for (int k = 0; k < (x->state ? 1 : 3); k++) {
                const float *v = host + (x->state ? 3 * n : k * n) + x->offset;
                bool nonneg = k == 2 || !strcmp(x->name, "running_var");
                size_t bad = first_bad(v, x->count, nonneg);
                if (bad == x->count)
                    continue;
                char name[256];
                hsize_t dims[4];
                ckpt_tensor_place(trees[k], l, x, name, sizeof name, dims);
                err_set("checkpoint %s: %s holds %g at [%zu], which training cannot produce", path,
                        name, (double)v[bad], bad);
                return CKPT_DAMAGED;
            }
        }
    }
    return 0;
}

int ckpt_open_read(const char *path, hid_t *file)
{
    int rc = ckpt_verify(path);
    if (rc < 0)
        return rc;
    char subject[64 + 4096];
    snprintf(subject, sizeof subject, "checkpoint %s", path);
    if (h5probe_file(path, NULL, subject) < 0)
        return CKPT_DAMAGED;
    h5util_quiet();
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0)
        return h5util_fail("H5Fopen", "/", path);
    return 0;
}

int ckpt_read(const char *path, const model *m, const ckpt_model_rules *rules, ckpt_state *st,
              float *host)
{
    hid_t file;
    int rc = ckpt_open_read(path, &file);
    if (rc < 0)
        return rc;
    /* the padding between tensors, which the file does not hold, is zero */
    memset(host, 0, sizeof(float) * ckpt_host_floats(m));
    size_t n = m->n_params;
    ckpt_state s;
    rc = read_state(file, &s, path);
    if (rc == 0)
        rc = ckpt_model_check(file, path, m, rules);
    if (rc == 0)
        rc = read_tree(file, "/model", m, host, host + 3 * n, path);
    if (rc == 0)
        rc = check_no_extra_layers(file, m, path);
    if (rc == 0)
        rc = read_tree(file, "/optimizer/m", m, host + n, NULL, path);
    if (rc == 0)
        rc = read_tree(file, "/optimizer/v", m, host + 2 * n, NULL, path);
    H5Fclose(file);
    if (rc == 0)
        rc = check_values(m, host, path);
    if (rc == 0)
        *st = s;
    return rc;
}

size_t ckpt_host_floats(const model *m)
{
    return 3 * m->n_params + m->n_state;
}

int ckpt_load_params(const char *path, model *m)
{
    float *host = malloc(sizeof(float) * (ckpt_host_floats(m) + 1));
    if (!host)
        return err_set("out of host memory for %s", path);
    ckpt_state st;
    backend *be = m->be;
    int rc = ckpt_read(path, m, NULL, &st, host) < 0 ? -1 : 0;
    if (rc == 0)
        rc = be->upload(be, m->params, host, sizeof(float) * m->n_params);
    if (rc == 0)
        rc = be->upload(be, m->state, host + 3 * m->n_params, sizeof(float) * m->n_state);
    free(host);
    return rc;
}
