#include "data/idx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/err.h"
#include "util/fsutil.h"
#include "util/membudget.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u

/* Reads exactly `len` bytes, the part of a `total`-byte whole (`what`)
 * that starts `before` bytes in; or says how many the file had. */
static int read_exact(gzFile f, const char *path, void *buf, size_t len, const char *what,
                      size_t before, size_t total)
{
    size_t got = 0;
    while (got < len) {
        unsigned chunk = len - got > (1u << 30) ? (1u << 30) : (unsigned)(len - got);
        int n = gzread(f, (char *)buf + got, chunk);
        if (n < 0) {
            int code;
            const char *msg = gzerror(f, &code);
            return err_set("%s: cannot read %s: %s", path, what,
                           code == Z_ERRNO ? "I/O error" : msg);
        }
        if (n == 0)
            return err_set("%s: truncated: expected %zu bytes of %s, found %zu", path, total, what,
                           before + got);
        got += (size_t)n;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens the file, a regular one (fs_open_regular: a FIFO would block the
 * open, a device never end), for zlib to read. */
static gzFile open_gz(const char *path)
{
    struct stat st;
    int fd = fs_open_regular(path, &st);
    if (fd < 0)
        return NULL;
    gzFile f = gzdopen(fd, "rb");
    if (!f) { /* the descriptor stays ours then */
        err_set("cannot open %s: out of memory for zlib's state", path);
        close(fd);
    }
    return f;
}

/* Opens the file and checks the magic number; reads `ndims` dimensions. */
static gzFile open_idx(const char *path, uint32_t magic, int ndims, uint32_t *dims)
{
    gzFile f = open_gz(path);
    if (!f)
        return NULL;
    unsigned char hdr[16];
    if (read_exact(f, path, hdr, 4 + 4 * (size_t)ndims, "header", 0, 4 + 4 * (size_t)ndims) < 0) {
        gzclose(f);
        return NULL;
    }
    uint32_t got = be32(hdr);
    if (got != magic) {
        err_set("%s: wrong magic number 0x%08x, expected 0x%08x (IDX %s)", path, got, magic,
                magic == IDX_MAGIC_IMAGES ? "unsigned-byte images" : "unsigned-byte labels");
        gzclose(f);
        return NULL;
    }
    for (int i = 0; i < ndims; i++)
        dims[i] = be32(hdr + 4 + 4 * i);
    return f;
}

/* The first allocation for a payload: a header may announce far more than
 * the file holds (a gzipped file's size says nothing of its contents), so
 * the buffer grows as the data arrives rather than to what is announced. */
#define IDX_FIRST_CHUNK ((size_t)1 << 24)

/* Reads the len-byte payload into *out (malloc'ed, grown as it arrives),
 * checking first that len fits in memory, and insists that the file ends
 * right after it. */
static int read_payload(gzFile f, const char *path, uint8_t **out, size_t len, const char *what)
{
    char need[160];
    snprintf(need, sizeof need, "%s: its %s", path, what);
    if (mem_budget_check(len, 0, 1, need, NULL) < 0)
        return -1;
    size_t cap = len < IDX_FIRST_CHUNK ? len : IDX_FIRST_CHUNK, got = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    while (buf && got < len) {
        if (got == cap) {
            cap = len - cap < cap ? len : 2 * cap;
            uint8_t *grown = realloc(buf, cap);
            if (!grown)
                break;
            buf = grown;
        }
        if (read_exact(f, path, buf + got, cap - got, what, got, len) < 0) {
            free(buf);
            return -1;
        }
        got = cap;
    }
    if (got < len) {
        free(buf);
        return err_set("%s: out of memory for %zu bytes of %s", path, len, what);
    }
    *out = buf;
    char extra;
    if (gzread(f, &extra, 1) != 0) {
        free(buf);
        *out = NULL;
        return err_set("%s: has data past the %zu bytes of %s its header announces", path, len,
                       what);
    }
    return 0;
}

int idx_read_images(const char *path, idx_images *out)
{
    memset(out, 0, sizeof *out);
    uint32_t d[3];
    gzFile f = open_idx(path, IDX_MAGIC_IMAGES, 3, d);
    if (!f)
        return -1;
    if (d[0] == 0 || d[1] == 0 || d[2] == 0 || d[1] > 4096 || d[2] > 4096 || d[0] > (1u << 28)) {
        gzclose(f);
        return err_set("%s: implausible image dimensions %u x %u x %u", path, d[0], d[1], d[2]);
    }
    size_t len = (size_t)d[0] * d[1] * d[2];
    int rc = read_payload(f, path, &out->pixels, len, "pixels");
    gzclose(f);
    if (rc < 0) {
        idx_images_free(out);
        return -1;
    }
    out->n = d[0];
    out->rows = (int)d[1];
    out->cols = (int)d[2];
    return 0;
}

int idx_read_labels(const char *path, idx_labels *out)
{
    memset(out, 0, sizeof *out);
    uint32_t n;
    gzFile f = open_idx(path, IDX_MAGIC_LABELS, 1, &n);
    if (!f)
        return -1;
    if (n == 0 || n > (1u << 28)) {
        gzclose(f);
        return err_set("%s: implausible label count %u", path, n);
    }
    int rc = read_payload(f, path, &out->labels, n, "labels");
    gzclose(f);
    if (rc < 0) {
        idx_labels_free(out);
        return -1;
    }
    out->n = n;
    return 0;
}

void idx_images_free(idx_images *im)
{
    free(im->pixels);
    memset(im, 0, sizeof *im);
}

void idx_labels_free(idx_labels *lb)
{
    free(lb->labels);
    memset(lb, 0, sizeof *lb);
}
