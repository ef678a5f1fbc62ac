/* hdf5 data: small HDF5 files written with the HDF5 C API and read back as
 * datasets: uint8 NCHW and NHWC (auto-detected and explicit), float32,
 * custom dataset names, chunked and compressed images; a gather of unsorted
 * and repeated indices equals the same gather from memory; and each way a
 * file can be wrong. */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/dataset.h"
#include "testutil.h"
#include "util/err.h"

static char dir[256];
static dataset_options opt;

static void setup(void)
{
    tu_tmpdir(dir, sizeof dir);
    /* data.*'s defaults, format hdf5 */
    opt = (dataset_options){.format = DATA_HDF5,
                            .train = "",
                            .test = "",
                            .shape = "",
                            .images_key = "/images",
                            .labels_key = "/labels",
                            .layout = LAYOUT_AUTO,
                            .exclude = ""};
}

static void teardown(void)
{
    tu_rmtree(dir);
}

static const char *at(const char *name)
{
    return tu_path(dir, name);
}

/* Writes a dataset of `rank` dims at `name` (groups made as needed), from
 * data of mem_type stored as file_type; chunk0 > 0 chunks it along the first
 * axis and compresses it. */
static void put(hid_t f, const char *name, int rank, const hsize_t *dims, hid_t file_type,
                hid_t mem_type, const void *data, hsize_t chunk0)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    ck_assert_int_ge(H5Pset_create_intermediate_group(lcpl, 1), 0);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk0) {
        hsize_t chunk[8];
        memcpy(chunk, dims, sizeof *dims * (size_t)rank);
        chunk[0] = chunk0;
        ck_assert_int_ge(H5Pset_chunk(dcpl, rank, chunk), 0);
        ck_assert_int_ge(H5Pset_deflate(dcpl, 4), 0);
    }
    hid_t d = H5Dcreate2(f, name, file_type, space, lcpl, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    if (data) /* else declared, never written */
        ck_assert_int_ge(H5Dwrite(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), 0);
    H5Dclose(d);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
}

/* A file with images (rank 4 unless dims say otherwise) and n labels
 * (int64 in the file, label i = labels[i]). */
typedef struct {
    const char *images_name, *labels_name;
    int rank;
    hsize_t dims[4];
    hid_t file_type, mem_type;
    const void *images;
    hsize_t n_labels;
    const int64_t *labels;
    hsize_t chunk0;
} h5_spec;

static const char *write_file(const char *name, const h5_spec *s)
{
    const char *path = at(name);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    put(f, s->images_name ? s->images_name : "/images", s->rank ? s->rank : 4, s->dims,
        s->file_type, s->mem_type, s->images, s->chunk0);
    if (s->n_labels)
        put(f, s->labels_name ? s->labels_name : "/labels", 1, &s->n_labels, H5T_STD_I64LE,
            H5T_NATIVE_INT64, s->labels, 0);
    H5Fclose(f);
    return path;
}

/* The test data: byte i of the images is (i * 37 + 11) % 256. */
static uint8_t *bytes(size_t n)
{
    uint8_t *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)((i * 37 + 11) % 256);
    return b;
}

static const int64_t labels5[5] = {4, 0, 2, 1, 3};

/* The reference: sample s of stored (n, a, b, c) data, as NCHW floats. */
static float ref_value(const uint8_t *data, const hsize_t *d, bool nhwc, int64_t s, int c, int y,
                       int x)
{
    size_t k = nhwc ? (((size_t)s * d[1] + y) * d[2] + x) * d[3] + c
                    : (((size_t)s * d[1] + c) * d[2] + y) * d[3] + x;
    return (float)data[k] / 255.0f;
}

/* Gathers idx and compares with the reference from memory. */
static void check_gather(dataset *ds, const uint8_t *data, const hsize_t *d, bool nhwc,
                         const int64_t *labels, const int64_t *idx, int count)
{
    float *x = malloc(sizeof *x * (size_t)count * ds->features);
    int32_t *y = malloc(sizeof *y * (size_t)count);
    ck_assert_msg(dataset_gather(ds, idx, count, x, y) == 0, "%s", err_msg());
    for (int i = 0; i < count; i++) {
        ck_assert_int_eq(y[i], labels[idx[i]]);
        const float *s = x + (size_t)i * ds->features;
        for (int c = 0; c < ds->channels; c++)
            for (int r = 0; r < ds->height; r++)
                for (int q = 0; q < ds->width; q++)
                    ck_assert_float_eq(s[(c * ds->height + r) * ds->width + q],
                                       ref_value(data, d, nhwc, idx[i], c, r, q));
    }
    free(x);
    free(y);
}

static void check_shape(const dataset *ds, int64_t n, int c, int h, int w)
{
    ck_assert_int_eq(ds->n, n);
    ck_assert_int_eq(ds->channels, c);
    ck_assert_int_eq(ds->height, h);
    ck_assert_int_eq(ds->width, w);
    ck_assert_int_eq(ds->features, c * h * w);
}

static const int64_t shuffled[7] = {3, 1, 3, 0, 4, 1, 2};

START_TEST(uint8_nchw)
{
    h5_spec s = {.dims = {5, 3, 4, 2}, .file_type = H5T_STD_U8LE, .mem_type = H5T_NATIVE_UINT8};
    uint8_t *data = bytes(5 * 3 * 4 * 2);
    s.images = data;
    s.n_labels = 5;
    s.labels = labels5;
    dataset *ds;
    ck_assert_msg(dataset_open(&ds, &opt, write_file("a.h5", &s), "data.train") == 0, "%s",
                  err_msg());
    check_shape(ds, 5, 3, 4, 2);
    ck_assert_int_eq(ds->classes, 5);
    check_gather(ds, data, s.dims, false, labels5, shuffled, 7);
    check_gather(ds, data, s.dims, false, labels5, shuffled + 4, 1); /* a batch of one */
    dataset_close(ds);
    free(data);
}
END_TEST

START_TEST(uint8_nhwc_auto_and_explicit)
{
    h5_spec s = {.dims = {5, 4, 6, 3}, .file_type = H5T_STD_U8LE, .mem_type = H5T_NATIVE_UINT8};
    uint8_t *data = bytes(5 * 4 * 6 * 3);
    s.images = data;
    s.n_labels = 5;
    s.labels = labels5;
    const char *path = write_file("a.h5", &s);
    dataset *ds;
    ck_assert_msg(dataset_open(&ds, &opt, path, "data.train") == 0, "%s", err_msg());
    check_shape(ds, 5, 3, 4, 6); /* auto: the last axis is 3, the second is not */
    check_gather(ds, data, s.dims, true, labels5, shuffled, 7);
    dataset_close(ds);

    opt.layout = LAYOUT_NCHW; /* the same file, read as told */
    ck_assert_msg(dataset_open(&ds, &opt, path, "data.train") == 0, "%s", err_msg());
    check_shape(ds, 5, 4, 6, 3);
    check_gather(ds, data, s.dims, false, labels5, shuffled, 7);
    dataset_close(ds);
    free(data);

    /* (N, 3, 5, 1) looks like NCHW to auto; nhwc makes it 1 x 3 x 5 */
    h5_spec t = {.dims = {5, 3, 5, 1}, .file_type = H5T_STD_U8LE, .mem_type = H5T_NATIVE_UINT8};
    data = bytes(5 * 3 * 5);
    t.images = data;
    t.n_labels = 5;
    t.labels = labels5;
    path = write_file("b.h5", &t);
    opt.layout = LAYOUT_AUTO;
    ck_assert_msg(dataset_open(&ds, &opt, path, "data.train") == 0, "%s", err_msg());
    check_shape(ds, 5, 3, 5, 1);
    dataset_close(ds);
    opt.layout = LAYOUT_NHWC;
    ck_assert_msg(dataset_open(&ds, &opt, path, "data.train") == 0, "%s", err_msg());
    check_shape(ds, 5, 1, 3, 5);
    check_gather(ds, data, t.dims, true, labels5, shuffled, 7);
    dataset_close(ds);
    free(data);
}
END_TEST

START_TEST(float32_as_stored)
{
    enum { N = 4, F = 2 * 3 * 4 };
    float data[N * F];
    for (int i = 0; i < N * F; i++)
        data[i] = (float)i * 0.37f - 5.0f;
    h5_spec s = {.dims = {N, 2, 3, 4}, .file_type = H5T_IEEE_F32LE, .mem_type = H5T_NATIVE_FLOAT};
    s.images = data;
    s.n_labels = N;
    s.labels = labels5;
    dataset *ds;
    ck_assert_msg(dataset_open(&ds, &opt, write_file("f.h5", &s), "data.train") == 0, "%s",
                  err_msg());
    check_shape(ds, N, 2, 3, 4);
    int64_t idx[3] = {3, 0, 3};
    float x[3 * F];
    int32_t y[3];
    ck_assert_int_eq(dataset_gather(ds, idx, 3, x, y), 0);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < F; j++)
            ck_assert_float_eq(x[i * F + j], data[idx[i] * F + j]);
    ck_assert_int_eq(y[0], 1);
    ck_assert_int_eq(y[1], 4);
    dataset_close(ds);
}
END_TEST

START_TEST(custom_names_chunked)
{
    enum { N = 300 };
    h5_spec s = {.images_name = "/cifar/x",
                 .labels_name = "/cifar/y",
                 .dims = {N, 3, 8, 8},
                 .file_type = H5T_STD_U8LE,
                 .mem_type = H5T_NATIVE_UINT8,
                 .chunk0 = 16};
    uint8_t *data = bytes(N * 3 * 8 * 8);
    int64_t labels[N];
    for (int i = 0; i < N; i++)
        labels[i] = (i * 7) % 10;
    s.images = data;
    s.n_labels = N;
    s.labels = labels;
    const char *path = write_file("c.h5", &s);
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, path, "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "has no dataset /images (data.images_key)"));
    opt.images_key = "/cifar/x";
    opt.labels_key = "/cifar/y";
    ck_assert_msg(dataset_open(&ds, &opt, path, "data.train") == 0, "%s", err_msg());
    check_shape(ds, N, 3, 8, 8);
    ck_assert_int_eq(ds->classes, 10);
    /* runs, gaps and repeats, across chunk boundaries */
    int64_t idx[120];
    for (int i = 0; i < 120; i++)
        idx[i] = (int64_t)((i * 131 + (i % 3) * 17) % N);
    idx[7] = idx[8] = idx[9] = 15;
    idx[10] = 16;
    idx[11] = 17;
    idx[12] = N - 1;
    check_gather(ds, data, s.dims, false, labels, idx, 120);
    for (int i = 0; i < 120; i++)
        idx[i] = 119 - i; /* one run, backwards */
    check_gather(ds, data, s.dims, false, labels, idx, 120);
    int64_t bad[2] = {0, N};
    float x[2 * 3 * 8 * 8];
    int32_t y[2];
    ck_assert_int_eq(dataset_gather(ds, bad, 2, x, y), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train: sample 300 is out of range"));
    dataset_close(ds);
    free(data);
}
END_TEST

START_TEST(wrong_rank)
{
    uint8_t data[5 * 4 * 4] = {0};
    h5_spec s = {.rank = 3, .dims = {5, 4, 4}, .file_type = H5T_STD_U8LE};
    s.mem_type = H5T_NATIVE_UINT8;
    s.images = data;
    s.n_labels = 5;
    s.labels = labels5;
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, write_file("r.h5", &s), "data.test"), -1);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.test: "));
    ck_assert_ptr_nonnull(strstr(err_msg(), "r.h5: /images has 3 axes (5, 4, 4), expected 4"));
}
END_TEST

START_TEST(label_count_mismatch)
{
    uint8_t data[5 * 2 * 2 * 2] = {0};
    h5_spec s = {.dims = {5, 2, 2, 2}, .file_type = H5T_STD_U8LE, .mem_type = H5T_NATIVE_UINT8};
    s.images = data;
    s.n_labels = 4;
    s.labels = labels5;
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, write_file("m.h5", &s), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "m.h5: /images has 5 images but /labels has 4 labels"));
}
END_TEST

START_TEST(missing_dataset_and_file)
{
    uint8_t data[5 * 2 * 2 * 2] = {0};
    h5_spec s = {.dims = {5, 2, 2, 2}, .file_type = H5T_STD_U8LE, .mem_type = H5T_NATIVE_UINT8};
    s.images = data; /* no labels */
    const char *path = write_file("n.h5", &s);
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, path, "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train: "));
    ck_assert_ptr_nonnull(strstr(err_msg(), "n.h5 has no dataset /labels (data.labels_key)"));
    ck_assert_int_eq(dataset_open(&ds, &opt, at("none.h5"), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train: cannot open"));
    ck_assert_ptr_nonnull(strstr(err_msg(), "No such file"));
    tu_write_file(at("text.h5"), "not hdf5\n");
    ck_assert_int_eq(dataset_open(&ds, &opt, at("text.h5"), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "HDF5 H5Fopen("));
}
END_TEST

START_TEST(bad_types_and_labels)
{
    int16_t wide[5 * 8] = {0};
    h5_spec s = {.dims = {5, 2, 2, 2}, .file_type = H5T_STD_I16LE, .mem_type = H5T_NATIVE_INT16};
    s.images = wide;
    s.n_labels = 5;
    s.labels = labels5;
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, write_file("t.h5", &s), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "/images holds int16, expected uint8 or float32"));

    uint8_t data[5 * 8] = {0};
    int64_t negative[5] = {0, 1, -2, 1, 0};
    h5_spec t = {.dims = {5, 2, 2, 2}, .file_type = H5T_STD_U8LE, .mem_type = H5T_NATIVE_UINT8};
    t.images = data;
    t.n_labels = 5;
    t.labels = negative;
    ck_assert_int_eq(dataset_open(&ds, &opt, write_file("l.h5", &t), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "label 2 is -2, expected 0 to 16777215"));
    /* read as stored, not saturated to int32 (whose max + 1 would wrap) */
    int64_t huge[5] = {0, 1, (int64_t)1 << 40, 1, 0};
    t.labels = huge;
    ck_assert_int_eq(dataset_open(&ds, &opt, write_file("h.h5", &t), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "label 2 is 1099511627776, expected 0 to 16777215"));
}
END_TEST

/* A file of a few KB can declare a data set of any size: refused before
 * anything is allocated for it. */
START_TEST(declared_but_not_there)
{
    h5_spec s = {.dims = {(hsize_t)1 << 27, 1, 1, 1},
                 .file_type = H5T_STD_U8LE,
                 .mem_type = H5T_NATIVE_UINT8,
                 .n_labels = (hsize_t)1 << 27,
                 .chunk0 = 1024};
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, write_file("e.h5", &s), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "/images was never written in full"));
    s.dims[0] = s.n_labels = ((hsize_t)1 << 28) + 1;
    ck_assert_int_eq(dataset_open(&ds, &opt, write_file("f.h5", &s), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "more than the 268435456 samples a data set may have"));
}
END_TEST

/* A compressed chunk that inflates to fewer bytes than the chunk holds:
 * libhdf5 1.10 would copy the rest from past its buffer (found by fuzzing).
 * It is refused when a gather first needs it, and the chunks before it
 * still read. */
START_TEST(short_chunk_refused)
{
    enum { N = 64 };
    h5_spec s = {.dims = {N, 1, 4, 4},
                 .file_type = H5T_STD_U8LE,
                 .mem_type = H5T_NATIVE_UINT8,
                 .n_labels = N,
                 .labels = (int64_t[N]){0},
                 .chunk0 = 16};
    uint8_t *data = bytes(N * 16);
    s.images = data;
    const char *path = write_file("short.h5", &s);
    /* chunk 2 (samples 32..47) rewritten as a valid gzip stream of half its size */
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "/images", H5P_DEFAULT);
    uLongf size = compressBound(16 * 16 / 2);
    unsigned char packed[512];
    ck_assert_int_eq(compress2(packed, &size, data, 16 * 16 / 2, 4), Z_OK);
    hsize_t offset[4] = {32, 0, 0, 0};
    ck_assert_int_ge(H5Dwrite_chunk(d, H5P_DEFAULT, 0, offset, size, packed), 0);
    H5Dclose(d);
    H5Fclose(f);
    dataset *ds;
    ck_assert_msg(dataset_open(&ds, &opt, path, "data.train") == 0, "%s", err_msg());
    int64_t idx[16];
    for (int i = 0; i < 16; i++)
        idx[i] = 16 + i;
    check_gather(ds, data, s.dims, false, (int64_t[N]){0}, idx, 16);
    float x[2 * 16];
    int32_t y[2];
    int64_t across[2] = {31, 32};
    ck_assert_int_eq(dataset_gather(ds, across, 2, x, y), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train: "));
    ck_assert_ptr_nonnull(strstr(err_msg(), "/images is damaged: a chunk of"));
    ck_assert_ptr_nonnull(strstr(err_msg(), "does not unpack to the 256 it holds"));
    dataset_close(ds);
    free(data);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hdf5_data");
    TCase *tc = tcase_create("hdf5_data");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, uint8_nchw);
    tcase_add_test(tc, uint8_nhwc_auto_and_explicit);
    tcase_add_test(tc, float32_as_stored);
    tcase_add_test(tc, custom_names_chunked);
    tcase_add_test(tc, wrong_rank);
    tcase_add_test(tc, label_count_mismatch);
    tcase_add_test(tc, missing_dataset_and_file);
    tcase_add_test(tc, bad_types_and_labels);
    tcase_add_test(tc, declared_but_not_there);
    tcase_add_test(tc, short_chunk_refused);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
