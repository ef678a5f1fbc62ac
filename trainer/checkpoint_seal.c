/* checkpoint_seal: the header in front of a checkpoint's HDF5 bytes.
 *
 * A checkpoint starts with an HDF5 user block of CKPT_HEADER_BYTES, which
 * HDF5 itself (h5dump, h5py) skips. accel-train writes there, as text,
 *     accel-train checkpoint <format_version>
 *     crc32c <8 hex digits> of <N> bytes after this header
 * and zeros after. libhdf5 trusts the files it reads: a corrupt object
 * header can make it read past its own buffers. So before HDF5 sees a byte
 * of a checkpoint, the reader checks the file's length and CRC, and a
 * damaged file is refused in our code, with a message that says so. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trainer/checkpoint.h"
#include "util/crc32c.h"
#include "util/err.h"

static const char magic[] = "accel-train checkpoint ";

void ckpt_seal(void *image, size_t size)
{
    unsigned char *p = image;
    uint32_t crc = crc32c(p + CKPT_HEADER_BYTES, size - CKPT_HEADER_BYTES);
    memset(p, 0, CKPT_HEADER_BYTES);
    snprintf((char *)p, CKPT_HEADER_BYTES,
             "%s%d\ncrc32c %08" PRIx32 " of %zu bytes after this header\n", magic,
             CKPT_FORMAT_VERSION, crc, size - CKPT_HEADER_BYTES);
}

/* Parses the header: the format, the CRC and the length it promises. */
static int parse_header(const char *h, const char *path, int *format, uint32_t *crc,
                        unsigned long long *len)
{
    if (!memcmp(h, "\x89HDF\r\n\x1a\n", 8)) {
        err_set("checkpoint %s has no accel-train header: it was written by another program "
                "or by an accel-train older than checkpoint format %d",
                path, CKPT_FORMAT_OLDEST);
        return CKPT_MISMATCH;
    }
    int used = 0;
    if (memcmp(h, magic, sizeof magic - 1) || !memchr(h, '\0', CKPT_HEADER_BYTES) ||
        sscanf(h + sizeof magic - 1, "%d\ncrc32c %8" SCNx32 " of %llu bytes after this header\n%n",
               format, crc, len, &used) != 3 ||
        !used)
        return err_set("checkpoint %s: not an accel-train checkpoint, or its header is damaged",
                       path);
    return ckpt_check_format(*format, path);
}

int ckpt_check_format(int64_t format, const char *path)
{
    if (format >= CKPT_FORMAT_OLDEST && format <= CKPT_FORMAT_VERSION)
        return 0;
    err_set("checkpoint %s has format_version %lld; this accel-train reads %d to %d", path,
            (long long)format, CKPT_FORMAT_OLDEST, CKPT_FORMAT_VERSION);
    return CKPT_MISMATCH;
}

/* The CRC of what follows the header, and its length, read a chunk at a
 * time. */
static int crc_rest(int fd, const char *path, uint32_t *crc, unsigned long long *len)
{
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = malloc(CHUNK);
    if (!buf)
        return err_set("out of host memory reading checkpoint %s", path);
    *crc = 0;
    *len = 0;
    ssize_t got;
    while ((got = read(fd, buf, CHUNK)) != 0) {
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            free(buf);
            return err_errno("checkpoint %s: read", path);
        }
        *crc = crc32c_update(*crc, buf, (size_t)got);
        *len += (unsigned long long)got;
    }
    free(buf);
    return 0;
}

static int verify_fd(int fd, const char *path)
{
    char h[CKPT_HEADER_BYTES];
    ssize_t got = read(fd, h, sizeof h);
    if (got < 0)
        return err_errno("checkpoint %s: read", path);
    if (got < (ssize_t)sizeof h)
        return err_set("checkpoint %s is truncated: %zd bytes, not even its header", path, got);
    int format;
    uint32_t want_crc, crc = 0;
    unsigned long long want_len, len = 0;
    int rc = parse_header(h, path, &format, &want_crc, &want_len);
    if (rc < 0)
        return rc;
    if (crc_rest(fd, path, &crc, &len) < 0)
        return -1;
    if (len != want_len)
        return err_set("checkpoint %s is %s: %llu bytes after its header, %llu expected", path,
                       len < want_len ? "truncated" : "longer than written", len, want_len);
    if (crc != want_crc)
        return err_set("checkpoint %s is damaged: its CRC-32C is %08" PRIx32 ", %08" PRIx32
                       " was written",
                       path, crc, want_crc);
    return 0;
}

int ckpt_verify(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_errno("checkpoint %s: open", path);
    int rc = verify_fd(fd, path);
    close(fd);
    return rc;
}
