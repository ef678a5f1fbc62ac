/* dataset_hdf5: a split in an HDF5 file: images (N,C,H,W) or (N,H,W,C) of
 * uint8 or float32, and labels (N) of any integer type.
 *
 * The labels are read whole when the split is opened; the images stay in the
 * file and each gather reads only its samples, so a split need not fit in
 * memory. A batch's indices are sorted, each run of consecutive samples is
 * read with one hyperslab (a repeated sample once), and the samples are then
 * placed in the order asked for. */
#include <hdf5.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/dataset_formats.h"
#include "data/h5chunks.h"
#include "util/err.h"
#include "util/fsutil.h"
#include "util/h5probe.h"
#include "util/h5util.h"
#include "util/membudget.h"

/* The chunk cache of the images dataset. HDF5's default (1 MiB) holds less
 * than one chunk of many image files, so every batch would decompress each
 * chunk it touches again; 64 MiB keeps the recently read chunks, evicting
 * first those read in full (w0 = 1). */
#define H5DATA_CACHE_BYTES ((size_t)64 << 20)
#define H5DATA_CACHE_SLOTS 12421 /* a prime (HDF5's advice), ample for the chunks that fit */

typedef struct {
    int64_t idx; /* sample in the split */
    int pos;     /* place in the request */
} h5_request;

typedef struct {
    hsize_t first, len; /* samples [first, first + len) of the file */
    int row;            /* where the first goes in raw */
} h5_run;

typedef struct {
    hid_t file, images, space; /* space: the images' file dataspace */
    h5chunks *checks;          /* of the images' chunks, when filtered */
    bool is_float, nhwc;
    size_t sample_bytes;
    int32_t *labels;
    char key[64], path[DATASET_SPEC_MAX], name[128];

    /* scratch of gather, grown to the largest batch seen */
    int cap;
    h5_request *req;
    int *row; /* request i -> its row in raw */
    h5_run *runs;
    int n_runs;
    unsigned char *raw;
} h5_split;

static int h5_fail(const char *key, const char *path, const char *call, const char *object)
{
    char context[1024];
    snprintf(context, sizeof context, "%s: %s", key, path);
    return h5util_fail_in(context, call, object);
}

/* "uint8", "int16", "float64", ... for messages. */
static void type_text(char *buf, size_t size, hid_t type)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t bits = H5Tget_size(type) * 8;
    if (cls == H5T_INTEGER)
        snprintf(buf, size, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", bits);
    else if (cls == H5T_FLOAT)
        snprintf(buf, size, "float%zu", bits);
    else
        snprintf(buf, size, "a non-numeric type");
}

/* Opens the dataset `name`, saying which config key names it when it is
 * not there. dapl: its access properties. */
static hid_t open_dataset(const h5_split *h, const char *name, const char *cfg_key, hid_t dapl)
{
    /* below 0 too: HDF5 fails, rather than answer 0, when a group on the
     * path is missing */
    if (H5Lexists(h->file, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        err_set("%s: %s has no dataset %s (%s)", h->key, h->path, name, cfg_key);
        return -1;
    }
    hid_t d = H5Dopen2(h->file, name, dapl);
    if (d < 0)
        h5_fail(h->key, h->path, "H5Dopen2", name);
    return d;
}

/* Reads the rank and dimensions of dataset d (at most 8 axes). */
static int get_dims(const h5_split *h, hid_t d, const char *name, hsize_t dims[8], int *rank)
{
    hid_t space = H5Dget_space(d);
    if (space < 0)
        return h5_fail(h->key, h->path, "H5Dget_space", name);
    *rank = H5Sget_simple_extent_ndims(space);
    int rc = 0;
    if (*rank < 0 || (*rank <= 8 && H5Sget_simple_extent_dims(space, dims, NULL) < 0))
        rc = h5_fail(h->key, h->path, "H5Sget_simple_extent_dims", name);
    H5Sclose(space);
    return rc;
}

/* Accepts uint8 or float32 images. */
static int check_image_type(h5_split *h)
{
    hid_t t = H5Dget_type(h->images);
    if (t < 0)
        return h5_fail(h->key, h->path, "H5Dget_type", h->name);
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    bool u8 = cls == H5T_INTEGER && size == 1 && H5Tget_sign(t) == H5T_SGN_NONE;
    h->is_float = cls == H5T_FLOAT && size == 4;
    char have[32];
    type_text(have, sizeof have, t);
    H5Tclose(t);
    if (!u8 && !h->is_float)
        return err_set("%s: %s: %s holds %s, expected uint8 or float32", h->key, h->path, h->name,
                       have);
    return 0;
}

/* Works out C, H and W from (N, a, b, c) and data.layout. auto takes NHWC
 * when the last axis looks like channels (1 or 3) and the second does not. */
static int set_shape(dataset *ds, h5_split *h, const hsize_t *d, int layout)
{
    if (layout == LAYOUT_AUTO)
        h->nhwc = (d[3] == 1 || d[3] == 3) && !(d[1] == 1 || d[1] == 3);
    else
        h->nhwc = layout == LAYOUT_NHWC;
    hsize_t c = h->nhwc ? d[3] : d[1], y = h->nhwc ? d[1] : d[2], x = h->nhwc ? d[2] : d[3];
    char s[128];
    h5util_shape_text(s, sizeof s, 4, d);
    if (d[0] == 0 || c == 0 || y == 0 || x == 0)
        return err_set("%s: %s: %s has shape %s, with no samples or empty ones", h->key, h->path,
                       h->name, s);
    if (c > INT_MAX || y > INT_MAX || x > INT_MAX || c * y > INT_MAX ||
        c * y * x > (hsize_t)(INT_MAX / 4))
        return err_set("%s: %s: %s has shape %s, too large a sample", h->key, h->path, h->name, s);
    if (d[0] > (hsize_t)DATASET_MAX_SAMPLES)
        return err_set("%s: %s: %s has shape %s: more than the %lld samples a data set may have",
                       h->key, h->path, h->name, s, (long long)DATASET_MAX_SAMPLES);
    ds->n = (int64_t)d[0];
    ds->channels = (int)c;
    ds->height = (int)y;
    ds->width = (int)x;
    ds->features = (int)(c * y * x);
    h->sample_bytes = (size_t)ds->features * (h->is_float ? 4 : 1);
    return 0;
}

/* Whether every chunk of chunked dataset d has been written (HDF5's space
 * status says "partly" for any compressed dataset, so count them). */
static int chunks_written(const h5_split *h, hid_t d, hid_t dcpl, const char *name, bool *all)
{
    hsize_t dims[8], chunk[8], want = 1, have = 0;
    int rank = 0;
    if (get_dims(h, d, name, dims, &rank) < 0)
        return -1;
    if (rank > 8 || H5Pget_chunk(dcpl, rank, chunk) != rank)
        return h5_fail(h->key, h->path, "H5Pget_chunk", name);
    for (int i = 0; i < rank; i++) {
        hsize_t along = chunk[i] ? (dims[i] + chunk[i] - 1) / chunk[i] : 0;
        if (along && want > (hsize_t)-1 / along)
            return err_set("%s: %s: %s has too many chunks", h->key, h->path, name);
        want *= along;
    }
    hid_t space = H5Dget_space(d);
    herr_t got = space < 0 ? -1 : H5Dget_num_chunks(d, space, &have);
    if (space >= 0)
        H5Sclose(space);
    if (got < 0)
        return h5_fail(h->key, h->path, "H5Dget_num_chunks", name);
    *all = have == want;
    return 0;
}

/* A dataset whose storage was never (or only partly) written is no data:
 * a small file can declare a huge one, which would read as fill values. */
static int check_written(const h5_split *h, hid_t d, const char *name)
{
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0)
        return h5_fail(h->key, h->path, "H5Dget_create_plist", name);
    H5D_layout_t layout = H5Pget_layout(dcpl);
    H5D_space_status_t status;
    bool all = layout == H5D_COMPACT;
    int rc = 0;
    if (layout == H5D_LAYOUT_ERROR)
        rc = h5_fail(h->key, h->path, "H5Pget_layout", name);
    else if (layout == H5D_CHUNKED)
        rc = chunks_written(h, d, dcpl, name, &all);
    else if (layout == H5D_CONTIGUOUS && H5Dget_space_status(d, &status) < 0)
        rc = h5_fail(h->key, h->path, "H5Dget_space_status", name);
    else if (layout == H5D_CONTIGUOUS)
        all = status == H5D_SPACE_STATUS_ALLOCATED;
    H5Pclose(dcpl);
    if (rc == 0 && !all)
        rc = err_set("%s: %s: %s was never written in full (HDF5 has no storage for some of it)",
                     h->key, h->path, name);
    return rc;
}

/* The chunk checker of dataset `name` (h5chunks), NULL when unfiltered. */
static int open_checks(const h5_split *h, hid_t d, const char *name, h5chunks **c)
{
    char what[sizeof h->key + sizeof h->path + 136];
    snprintf(what, sizeof what, "%s: %s: %s", h->key, h->path, name);
    return h5chunks_open(c, d, what);
}

static int open_images(dataset *ds, h5_split *h, const dataset_options *o)
{
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl < 0)
        return h5_fail(h->key, h->path, "H5Pcreate", "dataset access");
    if (H5Pset_chunk_cache(dapl, H5DATA_CACHE_SLOTS, H5DATA_CACHE_BYTES, 1.0) < 0) {
        H5Pclose(dapl);
        return h5_fail(h->key, h->path, "H5Pset_chunk_cache", h->name);
    }
    h->images = open_dataset(h, h->name, "data.images_key", dapl);
    H5Pclose(dapl);
    if (h->images < 0)
        return -1;
    hsize_t d[8];
    int rank = 0;
    if (get_dims(h, h->images, h->name, d, &rank) < 0 || check_image_type(h) < 0)
        return -1;
    if (rank != 4) {
        char s[128];
        h5util_shape_text(s, sizeof s, rank > 8 ? 0 : rank, d);
        return err_set("%s: %s: %s has %d axes %s, expected 4: (N,C,H,W) or (N,H,W,C)", h->key,
                       h->path, h->name, rank, s);
    }
    if (set_shape(ds, h, d, o->layout) < 0 || check_written(h, h->images, h->name) < 0 ||
        open_checks(h, h->images, h->name, &h->checks) < 0)
        return -1;
    h->space = H5Dget_space(h->images);
    return h->space < 0 ? h5_fail(h->key, h->path, "H5Dget_space", h->name) : 0;
}

/* Reads the labels whole into int32, a slice at a time through int64, so
 * that every label is checked as stored rather than saturated, and sets the
 * class count. */
static int read_label_values(dataset *ds, h5_split *h, hid_t d, const char *name)
{
    enum { SLICE = 1 << 16 };
    int64_t *wide = malloc(sizeof *wide * SLICE);
    hid_t file_space = H5Dget_space(d);
    int rc = !wide            ? err_set("%s: out of memory for labels", h->key)
             : file_space < 0 ? h5_fail(h->key, h->path, "H5Dget_space", name)
                              : 0;
    int64_t max = 0;
    for (int64_t at = 0; rc == 0 && at < ds->n; at += SLICE) {
        hsize_t start = (hsize_t)at, count = (hsize_t)(ds->n - at < SLICE ? ds->n - at : SLICE);
        hid_t mem = H5Screate_simple(1, &count, NULL);
        if (mem < 0 ||
            H5Sselect_hyperslab(file_space, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
            H5Dread(d, H5T_NATIVE_INT64, mem, file_space, H5P_DEFAULT, wide) < 0)
            rc = h5_fail(h->key, h->path, "H5Dread", name);
        for (hsize_t i = 0; rc == 0 && i < count; i++) {
            if (wide[i] < 0 || wide[i] >= DATASET_MAX_CLASSES)
                rc = err_set("%s: %s: label %lld is %lld, expected 0 to %lld", h->key, h->path,
                             (long long)(at + (int64_t)i), (long long)wide[i],
                             (long long)DATASET_MAX_CLASSES - 1);
            else {
                h->labels[at + (int64_t)i] = (int32_t)wide[i];
                max = wide[i] > max ? wide[i] : max;
            }
        }
        if (mem >= 0)
            H5Sclose(mem);
    }
    if (file_space >= 0)
        H5Sclose(file_space);
    free(wide);
    ds->classes = (int)max + 1; /* below DATASET_MAX_CLASSES */
    return rc;
}

/* Reads the labels whole, as int32, and sets the class count. */
static int read_labels(dataset *ds, h5_split *h, const char *name)
{
    hid_t d = open_dataset(h, name, "data.labels_key", H5P_DEFAULT);
    if (d < 0)
        return -1;
    hsize_t dims[8];
    int rank = 0, rc = get_dims(h, d, name, dims, &rank);
    hid_t t = rc == 0 ? H5Dget_type(d) : -1;
    if (rc == 0 && t < 0)
        rc = h5_fail(h->key, h->path, "H5Dget_type", name);
    if (rc == 0 && H5Tget_class(t) != H5T_INTEGER) {
        char have[32];
        type_text(have, sizeof have, t);
        rc = err_set("%s: %s: %s holds %s, expected integers", h->key, h->path, name, have);
    }
    if (rc == 0 && rank != 1)
        rc = err_set("%s: %s: %s has %d axes, expected 1 (a label per image)", h->key, h->path,
                     name, rank);
    if (rc == 0 && (int64_t)dims[0] != ds->n)
        rc = err_set("%s: %s: %s has %lld images but %s has %lld labels", h->key, h->path, h->name,
                     (long long)ds->n, name, (long long)dims[0]);
    if (rc == 0)
        rc = check_written(h, d, name);
    h5chunks *checks = NULL;
    if (rc == 0 && (open_checks(h, d, name, &checks) < 0 || h5chunks_check(checks, 0, dims[0]) < 0))
        rc = -1;
    h5chunks_close(checks);
    ds->bytes = sizeof *h->labels * (uint64_t)ds->n;
    char what[96];
    snprintf(what, sizeof what, "%s: its %lld labels", h->key, (long long)ds->n);
    if (rc == 0)
        rc = mem_budget_check(ds->bytes, 0, 1, what, NULL);
    if (rc == 0 && !(h->labels = malloc(sizeof *h->labels * (size_t)ds->n)))
        rc = err_set("%s: out of memory for %lld labels", h->key, (long long)ds->n);
    if (rc == 0)
        rc = read_label_values(ds, h, d, name);
    if (t >= 0)
        H5Tclose(t);
    H5Dclose(d);
    return rc;
}

/* Grows *p to `bytes`, keeping it as it was when that fails. */
static bool grow(void **p, size_t bytes)
{
    void *q = realloc(*p, bytes);
    if (q)
        *p = q;
    return q != NULL;
}

/* Makes room in the scratch for a batch of count samples. */
static int reserve(h5_split *h, int count)
{
    if (count <= h->cap)
        return 0;
    size_t n = (size_t)count;
    if (!grow((void **)&h->req, sizeof *h->req * n) ||
        !grow((void **)&h->row, sizeof *h->row * n) ||
        !grow((void **)&h->runs, sizeof *h->runs * n) ||
        !grow((void **)&h->raw, h->sample_bytes * n))
        return err_set("%s: out of memory for a batch of %d samples", h->key, count);
    h->cap = count;
    return 0;
}

static int by_index(const void *a, const void *b)
{
    const h5_request *x = a, *y = b;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Groups the sorted requests into runs of consecutive distinct samples and
 * gives each request its row in raw (a sample asked for twice is read once).
 * Returns the number of rows. */
static int plan_runs(h5_split *h, int count)
{
    int rows = 0;
    h->n_runs = 0;
    for (int i = 0; i < count; i++) {
        int64_t s = h->req[i].idx;
        bool repeat = i > 0 && s == h->req[i - 1].idx;
        if (!repeat && (i == 0 || s != h->req[i - 1].idx + 1))
            h->runs[h->n_runs++] = (h5_run){(hsize_t)s, 0, rows};
        if (!repeat) {
            h->runs[h->n_runs - 1].len++;
            rows++;
        }
        h->row[h->req[i].pos] = rows - 1;
    }
    return rows;
}

/* Selects `len` samples from `first` in space (whose other axes are whole). */
static herr_t select_samples(hid_t space, const hsize_t *dims, hsize_t first, hsize_t len)
{
    hsize_t start[4] = {first, 0, 0, 0}, block[4] = {len, dims[1], dims[2], dims[3]};
    hsize_t one[4] = {1, 1, 1, 1};
    return H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, one, block);
}

/* Reads the runs into raw, one H5Dread each. One read of the union of the
 * runs would be one call, but HDF5 1.10 then intersects the whole union with
 * every chunk: measured on 50000 CIFAR-sized samples, a random batch of 1000
 * took 131 ms that way from a chunked dataset, 9 ms run by run (and 9 ms
 * against 5 ms from a contiguous one). */
static int read_runs(h5_split *h, int rows)
{
    hsize_t dims[4], mdims[4];
    if (H5Sget_simple_extent_dims(h->space, dims, NULL) < 0)
        return h5_fail(h->key, h->path, "H5Sget_simple_extent_dims", h->name);
    memcpy(mdims, dims, sizeof dims);
    mdims[0] = (hsize_t)rows;
    hid_t mem = H5Screate_simple(4, mdims, NULL);
    if (mem < 0)
        return h5_fail(h->key, h->path, "H5Screate_simple", "batch");
    hid_t type = h->is_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_UINT8;
    int rc = 0;
    for (int r = 0; rc == 0 && r < h->n_runs; r++) {
        const h5_run *run = &h->runs[r];
        if (select_samples(h->space, dims, run->first, run->len) < 0 ||
            select_samples(mem, mdims, (hsize_t)run->row, run->len) < 0)
            rc = h5_fail(h->key, h->path, "H5Sselect_hyperslab", h->name);
        else if (h5chunks_check(h->checks, run->first, run->len) < 0)
            rc = -1;
        else if (H5Dread(h->images, type, mem, h->space, H5P_DEFAULT, h->raw) < 0)
            rc = h5_fail(h->key, h->path, "H5Dread", h->name);
    }
    H5Sclose(mem);
    return rc;
}

/* Converts one stored sample (NCHW or NHWC, uint8 or float32) to NCHW floats. */
static void place_sample(const dataset *ds, const h5_split *h, const unsigned char *src, float *dst)
{
    const int c_n = ds->channels, hw = ds->height * ds->width;
    for (int c = 0; c < c_n; c++)
        for (int p = 0; p < hw; p++) {
            size_t k = h->nhwc ? (size_t)p * c_n + c : (size_t)c * hw + p;
            float v;
            if (h->is_float)
                memcpy(&v, src + 4 * k, sizeof v);
            else
                v = (float)src[k] / 255.0f;
            dst[(size_t)c * hw + p] = v;
        }
}

static int h5_gather(dataset *ds, const int64_t *idx, int count, float *x, int32_t *y)
{
    h5_split *h = ds->impl;
    if (count <= 0)
        return 0;
    if (reserve(h, count) < 0)
        return -1;
    for (int i = 0; i < count; i++) {
        if (idx[i] < 0 || idx[i] >= ds->n)
            return err_set("%s: sample %lld is out of range (the split has %lld)", h->key,
                           (long long)idx[i], (long long)ds->n);
        h->req[i] = (h5_request){idx[i], i};
    }
    qsort(h->req, (size_t)count, sizeof *h->req, by_index);
    if (read_runs(h, plan_runs(h, count)) < 0)
        return -1;
    for (int i = 0; i < count; i++) {
        place_sample(ds, h, h->raw + h->sample_bytes * (size_t)h->row[i],
                     x + (size_t)i * ds->features);
        y[i] = h->labels[idx[i]];
    }
    return 0;
}

static void h5_close(dataset *ds)
{
    h5_split *h = ds->impl;
    if (!h)
        return;
    if (h->space > 0)
        H5Sclose(h->space);
    if (h->images > 0)
        H5Dclose(h->images);
    if (h->file > 0)
        H5Fclose(h->file);
    h5chunks_close(h->checks);
    free(h->labels);
    free(h->req);
    free(h->row);
    free(h->runs);
    free(h->raw);
    free(h);
    ds->impl = NULL;
}

/* The file is there, readable, and a regular file: HDF5 opens it by name,
 * and open() of a FIFO would block the probe until its alarm and then
 * this process for good; a device is no HDF5 file. fs_open_regular never
 * opens such a file, and does not block if the path changed since stat.
 * HDF5's own open comes later, by name, so a FIFO put in the file's place
 * in between (by design, not by mistake) could still block it. */
static int check_regular(const h5_split *h)
{
    struct stat st;
    int fd = fs_open_regular(h->path, &st);
    if (fd < 0)
        return err_prefix("%s", h->key);
    if (close(fd) < 0)
        return err_errno("%s: cannot close %s", h->key, h->path);
    return 0;
}

static int open_split(dataset *ds, h5_split *h, const dataset_options *o)
{
    if (check_regular(h) < 0)
        return -1;
    const char *names[] = {o->images_key, o->labels_key, NULL};
    char subject[sizeof h->key + sizeof h->path + 2];
    snprintf(subject, sizeof subject, "%s: %s", h->key, h->path);
    if (h5probe_file(h->path, names, subject) < 0)
        return -1;
    h->file = H5Fopen(h->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h->file < 0)
        return h5_fail(h->key, h->path, "H5Fopen", h->path);
    if (open_images(ds, h, o) < 0 || read_labels(ds, h, o->labels_key) < 0)
        return -1;
    return 0;
}

int dataset_open_hdf5(dataset *ds, const dataset_options *o, const char *spec, const char *key)
{
    h5util_quiet();
    h5_split *h = calloc(1, sizeof *h);
    if (!h)
        return err_set("%s: out of memory", key);
    h->file = h->images = h->space = -1;
    snprintf(h->key, sizeof h->key, "%s", key);
    snprintf(h->path, sizeof h->path, "%s", spec);
    snprintf(h->name, sizeof h->name, "%s", o->images_key);
    ds->impl = h;
    ds->gather = h5_gather;
    ds->close = h5_close;
    if (open_split(ds, h, o) < 0) {
        h5_close(ds);
        memset(ds, 0, sizeof *ds);
        return -1;
    }
    return 0;
}
