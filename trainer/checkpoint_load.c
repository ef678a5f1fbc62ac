/* checkpoint_load: reading a checkpoint back, checking every part of it
 * against the model the config builds before anything is used. */
#include <hdf5.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "trainer/checkpoint.h"
#include "trainer/err.h"
#include "trainer/h5util.h"

/* A scalar attribute into v, converted to mem_type. */
static int read_attr(hid_t file, const char *name, hid_t mem_type, void *v, const char *path)
{
    hid_t a = H5Aopen(file, name, H5P_DEFAULT);
    if (a < 0)
        return h5util_fail("H5Aopen", name, path);
    int rc = H5Aread(a, mem_type, v) < 0 ? h5util_fail("H5Aread", name, path) : 0;
    H5Aclose(a);
    return rc;
}

static int read_attr_i64(hid_t file, const char *name, int64_t *v, const char *path)
{
    return read_attr(file, name, H5T_NATIVE_INT64, v, path);
}

static int read_attr_u64(hid_t file, const char *name, uint64_t *v, const char *path)
{
    return read_attr(file, name, H5T_NATIVE_UINT64, v, path);
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

static int read_state(hid_t file, ckpt_state *st, const char *path)
{
    int64_t version;
    if (read_attr_i64(file, "format_version", &version, path) < 0)
        return -1;
    if (version != CKPT_FORMAT_VERSION) {
        err_set("checkpoint %s has format_version %lld; this accel-train reads %d", path,
                (long long)version, CKPT_FORMAT_VERSION);
        return CKPT_MISMATCH;
    }
    if (read_attr_i64(file, "step", &st->step, path) < 0 ||
        read_attr_i64(file, "epoch", &st->epoch, path) < 0 ||
        read_attr_i64(file, "step_in_epoch", &st->step_in_epoch, path) < 0 ||
        read_attr_i64(file, "samples_seen", &st->samples_seen, path) < 0 ||
        read_attr_i64(file, "world_size", &st->world_size, path) < 0 ||
        read_attr_i64(file, "batch_size", &st->batch_size, path) < 0 ||
        read_attr_u64(file, "seed", &st->seed, path) < 0)
        return -1;
    if (st->step < 0 || st->epoch < 0 || st->step_in_epoch < 0 || st->batch_size < 1)
        return err_set("checkpoint %s: implausible state (step %lld, epoch %lld)", path,
                       (long long)st->step, (long long)st->epoch);
    return 0;
}

int ckpt_read(const char *path, const model *m, ckpt_state *st, float *host)
{
    h5util_quiet();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0)
        return h5util_fail("H5Fopen", "/", path);
    size_t n = m->n_params;
    ckpt_state s;
    int rc = read_state(file, &s, path);
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
        *st = s;
    return rc;
}

size_t ckpt_host_floats(const model *m)
{
    return 3 * m->n_params + m->n_state;
}
