/* cifar10: small CIFAR-10 binary files in a temporary directory, read as a
 * list of files and as a directory, with the samples in file order and the
 * pixels channel-major; and the ways a file can be wrong: truncated, a label
 * out of range, a directory without batches, a shape other than data.shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"
#include "testutil.h"
#include "util/err.h"

enum { PIXELS = 3072, RECORD = 3073 };

static char dir[256];
static dataset_options opt;

static void setup(void)
{
    tu_tmpdir(dir, sizeof dir);
    opt = (dataset_options){.format = DATA_CIFAR10, .train = "", .test = "", .shape = ""};
}

static void teardown(void)
{
    tu_rmtree(dir);
}

static const char *at(const char *name)
{
    return tu_path(dir, name);
}

/* The byte at pixel p of record r of the file numbered `file`. */
static uint8_t pixel(int file, int r, int p)
{
    return (uint8_t)(p * 7 + r * 13 + file * 101);
}

static int label(int file, int r)
{
    return (file * 3 + r) % 10;
}

/* Writes n records of file number `file` to <dir>/<name>, cut to `keep`
 * bytes when keep >= 0; record `bad` (when >= 0) gets label 10. */
static void write_cifar(const char *name, int file, int n, long keep, int bad)
{
    size_t len = (size_t)n * RECORD;
    unsigned char *b = malloc(len);
    for (int r = 0; r < n; r++) {
        unsigned char *rec = b + (size_t)r * RECORD;
        rec[0] = (unsigned char)(r == bad ? 10 : label(file, r));
        for (int p = 0; p < PIXELS; p++)
            rec[1 + p] = pixel(file, r, p);
    }
    tu_write_bytes(at(name), b, keep >= 0 ? (size_t)keep : len, 0);
    free(b);
}

/* Checks that sample i of a gather is record r of file `file`. */
static void check_sample(const float *x, const int32_t *y, int i, int file, int r)
{
    ck_assert_int_eq(y[i], label(file, r));
    const float *s = x + (size_t)i * PIXELS;
    for (int p = 0; p < PIXELS; p += 97)
        ck_assert_float_eq(s[p], (float)pixel(file, r, p) / 255.0f);
    /* NCHW: channel 1 (green) of pixel (row 2, column 5) is byte 1024 + 2 * 32 + 5. */
    ck_assert_float_eq(s[1 * 1024 + 2 * 32 + 5], (float)pixel(file, r, 1024 + 69) / 255.0f);
}

START_TEST(list_of_files)
{
    write_cifar("a.bin", 0, 3, -1, -1);
    write_cifar("b.bin", 1, 2, -1, -1);
    char spec[1100];
    snprintf(spec, sizeof spec, "%s/a.bin,%s/b.bin", dir, dir);
    dataset *ds;
    ck_assert_msg(dataset_open(&ds, &opt, spec, "data.train") == 0, "%s", err_msg());
    ck_assert_int_eq(ds->n, 5);
    ck_assert_int_eq(ds->channels, 3);
    ck_assert_int_eq(ds->height, 32);
    ck_assert_int_eq(ds->width, 32);
    ck_assert_int_eq(ds->features, PIXELS);
    ck_assert_int_eq(ds->classes, 5); /* labels 0, 1, 2 then 3, 4 */
    int64_t idx[4] = {4, 0, 3, 0};
    float *x = malloc(sizeof *x * 4 * PIXELS);
    int32_t y[4];
    ck_assert_int_eq(dataset_gather(ds, idx, 4, x, y), 0);
    check_sample(x, y, 0, 1, 1);
    check_sample(x, y, 1, 0, 0);
    check_sample(x, y, 2, 1, 0);
    check_sample(x, y, 3, 0, 0);
    free(x);
    dataset_close(ds);
}
END_TEST

START_TEST(directory)
{
    /* written out of order: the reader sorts by name */
    write_cifar("data_batch_2.bin", 2, 2, -1, -1);
    write_cifar("data_batch_1.bin", 1, 3, -1, -1);
    write_cifar("test_batch.bin", 7, 4, -1, -1);
    tu_write_file(at("batches.meta.txt"), "airplane\n");
    dataset *ds;
    ck_assert_msg(dataset_open(&ds, &opt, dir, "data.train") == 0, "%s", err_msg());
    ck_assert_int_eq(ds->n, 5);
    int64_t idx[2] = {2, 3};
    float *x = malloc(sizeof *x * 2 * PIXELS);
    int32_t y[2];
    ck_assert_int_eq(dataset_gather(ds, idx, 2, x, y), 0);
    check_sample(x, y, 0, 1, 2); /* the last of data_batch_1 */
    check_sample(x, y, 1, 2, 0); /* the first of data_batch_2 */
    dataset_close(ds);

    ck_assert_msg(dataset_open(&ds, &opt, dir, "data.test") == 0, "%s", err_msg());
    ck_assert_int_eq(ds->n, 4);
    idx[0] = 3;
    ck_assert_int_eq(dataset_gather(ds, idx, 1, x, y), 0);
    check_sample(x, y, 0, 7, 3);
    free(x);
    dataset_close(ds);
}
END_TEST

START_TEST(truncated_file)
{
    write_cifar("a.bin", 0, 2, -1, -1);
    write_cifar("cut.bin", 0, 2, 2 * RECORD - 5, -1);
    char spec[1100];
    snprintf(spec, sizeof spec, "%s/a.bin,%s/cut.bin", dir, dir);
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, spec, "data.train"), -1);
    ck_assert_ptr_null(ds);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train: "));
    ck_assert_ptr_nonnull(strstr(err_msg(), "cut.bin: 6141 bytes is not a whole number of 3073"));
}
END_TEST

START_TEST(bad_label)
{
    write_cifar("a.bin", 0, 3, -1, 1);
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, at("a.bin"), "data.test"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.test: "));
    ck_assert_ptr_nonnull(strstr(err_msg(), "a.bin: record 1 has label 10, expected 0..9"));
}
END_TEST

START_TEST(missing_files)
{
    dataset *ds;
    ck_assert_int_eq(dataset_open(&ds, &opt, dir, "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "the directory has no data_batch_*.bin"));
    ck_assert_int_eq(dataset_open(&ds, &opt, dir, "data.test"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "the directory has no test_batch.bin"));
    ck_assert_int_eq(dataset_open(&ds, &opt, at("nothing.bin"), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.train: cannot open"));
    ck_assert_ptr_nonnull(strstr(err_msg(), "No such file"));
}
END_TEST

START_TEST(shape_checked)
{
    write_cifar("a.bin", 0, 1, -1, -1);
    dataset *ds;
    opt.shape = "3,32,32";
    ck_assert_msg(dataset_open(&ds, &opt, at("a.bin"), "data.train") == 0, "%s", err_msg());
    dataset_close(ds);
    opt.shape = "1,32,32";
    ck_assert_int_eq(dataset_open(&ds, &opt, at("a.bin"), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "has samples of shape 3,32,32 (C,H,W) but data.shape "
                                            "= 1,32,32"));
    opt.shape = "3,32";
    ck_assert_int_eq(dataset_open(&ds, &opt, at("a.bin"), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.shape = 3,32: expected C,H,W"));
    opt.shape = "3,0,32";
    ck_assert_int_eq(dataset_open(&ds, &opt, at("a.bin"), "data.train"), -1);
    ck_assert_ptr_nonnull(strstr(err_msg(), "data.shape = 3,0,32: expected C,H,W"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cifar");
    TCase *tc = tcase_create("cifar");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, list_of_files);
    tcase_add_test(tc, directory);
    tcase_add_test(tc, truncated_file);
    tcase_add_test(tc, bad_label);
    tcase_add_test(tc, missing_files);
    tcase_add_test(tc, shape_checked);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
