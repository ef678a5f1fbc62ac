/* outpath: an output may not be an input, by whatever path, link or hard
 * link, nor anything but a regular file (or a directory, where one is
 * wanted); and datafiles: the paths the data keys name. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/datafiles.h"
#include "testutil.h"
#include "util/err.h"
#include "util/outpath.h"

static char dir[256];
static outpath_inputs in;

static void setup(void)
{
    tu_tmpdir(dir, sizeof dir);
    ck_assert_int_eq(chdir(dir), 0);
    tu_write_file("ck.h5", "checkpoint");
    tu_write_file("other", "other");
    ck_assert_int_eq(mkdir("d", 0777), 0);
    memset(&in, 0, sizeof in);
    ck_assert_int_eq(outpath_add(&in, "ck.h5", "the checkpoint (%s)", "ck.h5"), 0);
    ck_assert_int_eq(outpath_add(&in, "missing", "never"), 0); /* no input */
    ck_assert_uint_eq(in.n, 1);
}

static void teardown(void)
{
    outpath_free(&in);
    ck_assert_int_eq(chdir("/"), 0);
    tu_rmtree(dir);
}

/* check_file's verdict on path: 0, or -1 with a message holding want. */
static void file_verdict(const char *path, const char *want)
{
    int rc = outpath_check_file(&in, "--out ", path, "choose another");
    if (!want) {
        ck_assert_msg(rc == 0, "%s refused: %s", path, err_msg());
        return;
    }
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err_msg(), want), "%s: '%s' lacks '%s'", path, err_msg(), want);
}

START_TEST(an_input_by_any_name)
{
    ck_assert_int_eq(symlink("ck.h5", "link"), 0);
    ck_assert_int_eq(link("ck.h5", "hard"), 0);
    const char *names[] = {"ck.h5", "./ck.h5", "d/../ck.h5", "link", "hard"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        file_verdict(names[i], ": is the checkpoint (ck.h5); choose another");
    file_verdict("ck.h5", "--out ck.h5: is the checkpoint (ck.h5); choose another");
}
END_TEST

START_TEST(not_a_regular_file)
{
    ck_assert_int_eq(mkfifo("fifo", 0666), 0);
    ck_assert_int_eq(symlink("/dev/null", "null"), 0);
    file_verdict("fifo", "--out fifo: not a regular file (a FIFO); choose another");
    file_verdict("d", "not a regular file (a directory)");
    file_verdict("null", "not a regular file (a character device)");
    file_verdict("other/x", "--out other/x: Not a directory");
}
END_TEST

START_TEST(allowed_files)
{
    ck_assert_int_eq(symlink("nowhere", "dangling"), 0);
    ck_assert_int_eq(symlink("other", "to-other"), 0);
    file_verdict("new", NULL);
    file_verdict("other", NULL);
    file_verdict("dangling", NULL);
    file_verdict("to-other", NULL);
}
END_TEST

START_TEST(directories)
{
    outpath_inputs din = {0};
    ck_assert_int_eq(outpath_add(&din, "d", "a data directory (%s)", "d"), 0);
    ck_assert_int_eq(mkdir("e", 0777), 0);
    ck_assert_int_eq(outpath_check_dir(&din, "", "e", "x"), 0);
    ck_assert_int_eq(outpath_check_dir(&din, "", "not-yet", "x"), 0);
    ck_assert_int_eq(outpath_check_dir(&din, "the dir ", "./d/", "x"), -1);
    ck_assert_str_eq(err_msg(), "the dir ./d/: is a data directory (d); x");
    ck_assert_int_eq(outpath_check_dir(&din, "", "other", "x"), -1);
    ck_assert_str_eq(err_msg(), "other: not a directory (a regular file); x");
    ck_assert_int_eq(outpath_check_dir(&in, "", "ck.h5", "x"), -1);
    ck_assert_str_eq(err_msg(), "ck.h5: is the checkpoint (ck.h5); x");
    outpath_free(&din);
}
END_TEST

/* datafiles_each's paths, joined by spaces in order, and the dirs marked */
static char seen[4096];

static int collect(void *ctx, const char *path, const char *key, bool is_dir)
{
    (void)ctx;
    snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%s:%s%s", *seen ? " " : "",
             key + 5, path, is_dir ? "/" : "");
    return 0;
}

START_TEST(data_paths)
{
    ck_assert_int_eq(mkdir("txt", 0777), 0);
    tu_write_file("txt/a.txt", "a");
    ck_assert_int_eq(mkdir("txt/sub", 0777), 0); /* not read: not named */
    tu_write_file("s_1.bin", "1");
    tu_write_file("s_2.bin", "2");
    ck_assert_int_eq(mkdir("s_3.bin", 0777), 0); /* matched, but a directory: not read */
    tu_write_file("tr-images-idx3-ubyte.gz", "i");
    tu_write_file("tr-labels-idx1-ubyte", "l");
    dataset_options o = {.format = DATA_TOKENS, .train = "txt,s_*.bin,gone", .test = "other"};
    seen[0] = '\0';
    ck_assert_int_eq(datafiles_each(&o, collect, NULL), 0);
    ck_assert_str_eq(seen, "train:txt/ train:txt/a.txt train:s_1.bin train:s_2.bin test:other");
    o = (dataset_options){.format = DATA_IDX, .train = "tr", .test = ""};
    seen[0] = '\0';
    ck_assert_int_eq(datafiles_each(&o, collect, NULL), 0);
    ck_assert_str_eq(seen, "train:tr-images-idx3-ubyte.gz train:tr-labels-idx1-ubyte");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outpath");
    TCase *tc = tcase_create("outpath");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, an_input_by_any_name);
    tcase_add_test(tc, not_a_regular_file);
    tcase_add_test(tc, allowed_files);
    tcase_add_test(tc, directories);
    tcase_add_test(tc, data_paths);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
