#include "data/idx.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "trainer/err.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u

/* Reads exactly `len` bytes, or says how many there were. */
static int read_exact(gzFile f, const char *path, void *buf, size_t len, const char *what)
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
            return err_set("%s: truncated: expected %zu bytes of %s, found %zu", path, len, what,
                           got);
        got += (size_t)n;
    }
    return 0;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Opens the file and checks the magic number; reads `ndims` dimensions. */
static gzFile open_idx(const char *path, uint32_t magic, int ndims, uint32_t *dims)
{
    gzFile f = gzopen(path, "rb");
    if (!f) {
        err_errno("cannot open %s", path);
        return NULL;
    }
    unsigned char hdr[16];
    if (read_exact(f, path, hdr, 4 + 4 * (size_t)ndims, "header") < 0) {
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

/* Reads the payload and insists that the file ends right after it. */
static int read_payload(gzFile f, const char *path, void *buf, size_t len, const char *what)
{
    if (read_exact(f, path, buf, len, what) < 0)
        return -1;
    char extra;
    if (gzread(f, &extra, 1) != 0)
        return err_set("%s: has data past the %zu bytes of %s its header announces", path, len,
                       what);
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
    out->pixels = malloc(len);
    if (!out->pixels) {
        gzclose(f);
        return err_set("%s: out of memory for %zu bytes of images", path, len);
    }
    int rc = read_payload(f, path, out->pixels, len, "pixels");
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
    out->labels = malloc(n);
    if (!out->labels) {
        gzclose(f);
        return err_set("%s: out of memory for %u labels", path, n);
    }
    int rc = read_payload(f, path, out->labels, n, "labels");
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
