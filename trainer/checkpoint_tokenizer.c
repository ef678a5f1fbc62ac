/* checkpoint_tokenizer: the tokenizer a checkpoint carries (/tokenizer,
 * the bytes of the run's tokenizer.json), read back for resuming,
 * generation and the exporters, and compared with a config's. */
#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer/checkpoint.h"
#include "trainer/checkpoint_open.h"
#include "util/err.h"
#include "util/h5util.h"

/* A tokenizer.json is at most this (data/tokenizer.h's loader's bound). */
#define CKPT_TOKENIZER_MAX ((hsize_t)256 << 20)

/* /tokenizer, open as d: one dimension of bytes, read into *json. */
static int read_bytes(hid_t d, char **json, size_t *len, const char *path)
{
    hid_t space = H5Dget_space(d), type = H5Dget_type(d);
    hsize_t n = 0;
    int rc = 0;
    if (space < 0 || type < 0)
        rc = h5util_fail("H5Dget_space/H5Dget_type", "/tokenizer", path);
    else if (H5Sget_simple_extent_ndims(space) != 1 || H5Tget_class(type) != H5T_INTEGER ||
             H5Tget_size(type) != 1 || H5Sget_simple_extent_dims(space, &n, NULL) != 1)
        rc = err_set("checkpoint %s: /tokenizer is not one dimension of bytes", path);
    else if (n == 0 || n > CKPT_TOKENIZER_MAX)
        rc = err_set("checkpoint %s: /tokenizer holds %llu bytes (1 to 256 MiB expected)", path,
                     (unsigned long long)n);
    char *buf = rc == 0 ? malloc((size_t)n + 1) : NULL;
    if (rc == 0 && !buf)
        rc = err_set("checkpoint %s: out of memory for its tokenizer (%llu bytes)", path,
                     (unsigned long long)n);
    if (rc == 0 && H5Dread(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = h5util_fail("H5Dread", "/tokenizer", path);
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[n] = '\0';
    *json = buf;
    *len = (size_t)n;
    return 0;
}

int ckpt_read_tokenizer(const char *path, char **json, size_t *len)
{
    *json = NULL;
    *len = 0;
    hid_t file;
    int rc = ckpt_open_read(path, &file);
    if (rc < 0)
        return rc;
    htri_t exists = H5Lexists(file, "/tokenizer", H5P_DEFAULT);
    if (exists < 0)
        rc = h5util_fail("H5Lexists", "/tokenizer", path);
    else if (exists) {
        hid_t d = H5Dopen2(file, "/tokenizer", H5P_DEFAULT);
        if (d < 0)
            rc = h5util_fail("H5Dopen2", "/tokenizer", path);
        else {
            rc = read_bytes(d, json, len, path);
            if (H5Dclose(d) < 0 && rc == 0)
                rc = h5util_fail("H5Dclose", "/tokenizer", path);
        }
    }
    if (H5Fclose(file) < 0 && rc == 0)
        rc = h5util_fail("H5Fclose", "/", path);
    if (rc < 0) {
        free(*json);
        *json = NULL;
        *len = 0;
    }
    return rc;
}

int ckpt_check_tokenizer(const char *path, const char *json, size_t len, const char *name)
{
    char *held = NULL;
    size_t held_len = 0;
    if (ckpt_read_tokenizer(path, &held, &held_len) < 0)
        return -1;
    int rc = 0;
    if (!held && json)
        rc = err_set("data.tokenizer = %s, but checkpoint %s holds no tokenizer (its model read "
                     "bytes or token shards): set data.tokenizer empty to continue it",
                     name, path);
    else if (held && !json)
        rc = err_set("checkpoint %s was trained on the ids of a tokenizer (it holds its "
                     "tokenizer.json, %zu bytes), and data.tokenizer is empty: set it to that "
                     "file to continue it",
                     path, held_len);
    else if (held && (held_len != len || memcmp(held, json, len) != 0))
        rc = err_set("data.tokenizer = %s is not the tokenizer checkpoint %s was trained with (its "
                     "tokenizer.json, %zu bytes, differs from this one's %zu): name that one to "
                     "continue it",
                     name, path, held_len, len);
    free(held);
    return rc;
}
