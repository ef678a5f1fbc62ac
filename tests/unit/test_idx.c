/* idx and dataset: good files (gzipped and raw), and each way a file can be
 * wrong: truncated, wrong magic, counts that disagree, trailing bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "data/idx.h"
#include "testutil.h"
#include "util/err.h"

static char dir[256];

static void setup(void)
{
    tu_tmpdir(dir, sizeof dir);
}

static void teardown(void)
{
    tu_rmtree(dir);
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* Writes n images of r x c (pixel i = i % 251) to <dir>/<name>, cut to
 * `keep` bytes when keep >= 0. */
static void write_images(const char *name, uint32_t magic, uint32_t n, uint32_t r, uint32_t c,
                         long keep, int gzip)
{
    size_t len = 16 + (size_t)n * r * c;
    unsigned char *b = malloc(len);
    put_be32(b, magic);
    put_be32(b + 4, n);
    put_be32(b + 8, r);
    put_be32(b + 12, c);
    for (size_t i = 16; i < len; i++)
        b[i] = (unsigned char)((i - 16) % 251);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tu_write_bytes(path, b, keep >= 0 ? (size_t)keep : len, gzip);
    free(b);
}

static void write_labels(const char *name, uint32_t n, int gzip)
{
    unsigned char *b = malloc(8 + n);
    put_be32(b, 0x801);
    put_be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++)
        b[8 + i] = (unsigned char)(i % 10);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tu_write_bytes(path, b, 8 + n, gzip);
    free(b);
}

/* Opens an IDX split as the trainer does. */
static int open_idx(dataset **ds, const char *spec, const char *key)
{
    dataset_options o = {.format = DATA_IDX, .train = "", .test = "", .shape = ""};
    return dataset_open(ds, &o, spec, key);
}

static const char *at(const char *name)
{
    return tu_path(dir, name);
}

START_TEST(reads_gzipped_and_raw)
{
    for (int gz = 0; gz < 2; gz++) {
        write_images("im", 0x803, 5, 3, 4, -1, gz);
        idx_images im;
        ck_assert_int_eq(idx_read_images(at("im"), &im), 0);
        ck_assert_int_eq(im.n, 5);
        ck_assert_int_eq(im.rows, 3);
        ck_assert_int_eq(im.cols, 4);
        ck_assert_uint_eq(im.pixels[59], 59);
        idx_images_free(&im);
    }
}
END_TEST

START_TEST(dataset_by_prefix_scales_to_unit)
{
    write_images("s-images-idx3-ubyte.gz", 0x803, 6, 2, 2, -1, 1);
    write_labels("s-labels-idx1-ubyte", 6, 0); /* raw next to gzipped */
    dataset *ds;
    ck_assert_int_eq(open_idx(&ds, at("s"), "data.train"), 0);
    ck_assert_int_eq(ds->n, 6);
    ck_assert_int_eq(ds->features, 4);
    ck_assert_int_eq(ds->channels, 1);
    ck_assert_int_eq(ds->height, 2);
    ck_assert_int_eq(ds->width, 2);
    ck_assert_int_eq(ds->classes, 6); /* labels 0..5 */
    int64_t idx[2] = {5, 1};
    float x[8];
    int32_t y[2];
    ck_assert_int_eq(dataset_gather(ds, idx, 2, x, y), 0);
    ck_assert_float_eq_tol(x[0], 20.0f / 255.0f, 1e-7f);
    ck_assert_float_eq_tol(x[4], 4.0f / 255.0f, 1e-7f);
    ck_assert_int_eq(y[0], 5);
    ck_assert_int_eq(y[1], 1);
    idx[0] = 6; /* one past the end */
    ck_assert_int_eq(dataset_gather(ds, idx, 2, x, y), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train: sample 6 is out of range"));
    dataset_close(ds);
}
END_TEST

START_TEST(dataset_by_pair)
{
    write_images("a", 0x803, 3, 2, 2, -1, 0);
    write_labels("b", 3, 1);
    char spec[1100];
    snprintf(spec, sizeof spec, "%s/a,%s/b", dir, dir);
    dataset *ds;
    ck_assert_int_eq(open_idx(&ds, spec, "data.test"), 0);
    ck_assert_int_eq(ds->n, 3);
    dataset_close(ds);
}
END_TEST

START_TEST(truncated)
{
    write_images("im", 0x803, 5, 3, 4, 16 + 50, 1);
    idx_images im;
    ck_assert_int_eq(idx_read_images(at("im"), &im), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "truncated: expected 60 bytes of pixels, found 50"));
    write_images("im", 0x803, 5, 3, 4, 10, 0); /* inside the header */
    ck_assert_int_eq(idx_read_images(at("im"), &im), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "truncated"));
}
END_TEST

START_TEST(wrong_magic)
{
    write_images("im", 0x801, 5, 3, 4, -1, 0);
    idx_images im;
    ck_assert_int_eq(idx_read_images(at("im"), &im), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "wrong magic number 0x00000801, expected 0x00000803"));
    write_images("im", 0x803, 5, 3, 4, -1, 0);
    idx_labels lb;
    ck_assert_int_eq(idx_read_labels(at("im"), &lb), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "wrong magic number 0x00000803, expected 0x00000801"));
}
END_TEST

START_TEST(trailing_bytes)
{
    write_images("im", 0x803, 5, 3, 4, -1, 0);
    FILE *f = fopen(at("im"), "ab");
    fputc(7, f);
    fclose(f);
    idx_images im;
    ck_assert_int_eq(idx_read_images(at("im"), &im), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "has data past"));
}
END_TEST

START_TEST(count_mismatch)
{
    write_images("m-images-idx3-ubyte", 0x803, 5, 2, 2, -1, 0);
    write_labels("m-labels-idx1-ubyte", 4, 0);
    dataset *ds;
    ck_assert_int_eq(open_idx(&ds, at("m"), "data.train"), -1);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train: "));
    ck_assert_ptr_nonnull(strstr(err_msg(), "has 5 images but"));
    ck_assert_ptr_nonnull(strstr(err_msg(), "has 4 labels"));
}
END_TEST

START_TEST(missing_files)
{
    dataset *ds;
    ck_assert_int_eq(open_idx(&ds, at("none"), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train = "));
    ck_assert_ptr_nonnull(strstr(err_msg(), "found neither"));
    idx_labels lb;
    ck_assert_int_eq(idx_read_labels(at("none"), &lb), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "No such file"));
}
END_TEST

START_TEST(real_fashion_mnist)
{
    dataset *ds;
    if (open_idx(&ds, FASHION_DIR "/t10k", "data.test") < 0)
        ck_abort_msg("cannot load Fashion-MNIST (install dataset-fashion-mnist): %s", err_msg());
    ck_assert_int_eq(ds->n, 10000);
    ck_assert_int_eq(ds->features, 784);
    ck_assert_int_eq(ds->height, 28);
    ck_assert_int_eq(ds->classes, 10);
    /* The test split is balanced: 1000 of each class. */
    int count[10] = {0};
    static float x[784];
    for (int64_t i = 0; i < ds->n; i++) {
        int32_t y;
        ck_assert_int_eq(dataset_gather(ds, &i, 1, x, &y), 0);
        count[y]++;
    }
    for (int c = 0; c < 10; c++)
        ck_assert_int_eq(count[c], 1000);
    dataset_close(ds);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("idx");
    TCase *tc = tcase_create("idx");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, reads_gzipped_and_raw);
    tcase_add_test(tc, dataset_by_prefix_scales_to_unit);
    tcase_add_test(tc, dataset_by_pair);
    tcase_add_test(tc, truncated);
    tcase_add_test(tc, wrong_magic);
    tcase_add_test(tc, trailing_bytes);
    tcase_add_test(tc, count_mismatch);
    tcase_add_test(tc, missing_files);
    tcase_add_test(tc, real_fashion_mnist);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
