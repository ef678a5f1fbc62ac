#include "trainer/tboard.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/crc32c.h"
#include "util/err.h"

/* TFRecord's masking, so that a CRC of data holding CRCs stays strong. */
static uint32_t masked_crc(const void *data, size_t len)
{
    uint32_t c = crc32c(data, len);
    return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

/* ---- protocol buffer encoding ---------------------------------------------- */

typedef struct {
    unsigned char b[512];
    size_t n;
} pbuf;

static void put_varint(pbuf *p, uint64_t v)
{
    while (v >= 0x80 && p->n < sizeof p->b) {
        p->b[p->n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    if (p->n < sizeof p->b)
        p->b[p->n++] = (unsigned char)v;
}

static void put_bytes(pbuf *p, const void *data, size_t len)
{
    if (p->n + len <= sizeof p->b) {
        memcpy(p->b + p->n, data, len);
        p->n += len;
    }
}

/* A field of wire type 2: the key, the length, the bytes. */
static void put_lendelim(pbuf *p, int field, const void *data, size_t len)
{
    put_varint(p, (uint64_t)field << 3 | 2);
    put_varint(p, len);
    put_bytes(p, data, len);
}

/* Event { wall_time = 1 (double), step = 2 (int64), then `rest` }. The
 * time only informs (TensorBoard's wall-time axis): 0 when the clock
 * cannot be read. */
static void event_head(pbuf *e, int64_t step)
{
    struct timeval tv;
    double wall = 0;
    if (gettimeofday(&tv, NULL) == 0)
        wall = (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
    put_varint(e, 1 << 3 | 1); /* fixed64, little-endian like this machine */
    put_bytes(e, &wall, sizeof wall);
    put_varint(e, 2 << 3 | 0);
    put_varint(e, (uint64_t)step);
}

static int write_record(tboard *tb, const pbuf *e)
{
    uint64_t len = e->n;
    uint32_t len_crc = masked_crc(&len, sizeof len), data_crc = masked_crc(e->b, e->n);
    if (fwrite(&len, sizeof len, 1, tb->f) != 1 || fwrite(&len_crc, 4, 1, tb->f) != 1 ||
        fwrite(e->b, 1, e->n, tb->f) != e->n || fwrite(&data_crc, 4, 1, tb->f) != 1)
        return err_errno("cannot write %s", tb->path);
    return 0;
}

/* Creates a new file at base, or at base.1, base.2, ... where that name is
 * taken: made exclusively, so nothing already there (the file of a run
 * resumed within the same second, a link, a FIFO, a device) is truncated
 * or written through. TensorBoard reads every file whose name holds
 * "tfevents". */
static int create_new(tboard *tb, const char *base)
{
    enum { TRIES = 100 };
    for (int i = 0; i < TRIES; i++) {
        int n = i ? snprintf(tb->path, sizeof tb->path, "%s.%d", base, i)
                  : snprintf(tb->path, sizeof tb->path, "%s", base);
        if (n < 0 || (size_t)n >= sizeof tb->path)
            return err_set("cannot create %s: a path too long", base);
        int fd = open(tb->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0)
            return err_errno("cannot create %s", tb->path);
        if (!(tb->f = fdopen(fd, "wb"))) {
            err_errno("cannot open %s", tb->path);
            close(fd); /* empty, and nothing to lose */
            return -1;
        }
        return 0;
    }
    return err_set("cannot create %s: it and the %d names after it are taken", base, TRIES - 1);
}

int tboard_open(tboard *tb, const char *dir)
{
    /* the time keeps a resumed run from writing into the first one's file;
     * the host name only informs */
    char host[256] = "";
    if (gethostname(host, sizeof host - 1) < 0)
        snprintf(host, sizeof host, "host");
    struct timeval tv;
    if (gettimeofday(&tv, NULL) < 0)
        return err_errno("gettimeofday (naming the TensorBoard event file in %s)", dir);
    char base[sizeof tb->path];
    int n =
        snprintf(base, sizeof base, "%s/events.out.tfevents.%ld.%s", dir, (long)tv.tv_sec, host);
    if (n < 0 || (size_t)n >= sizeof base)
        return err_set("the TensorBoard event file in %s: a path too long", dir);
    if (create_new(tb, base) < 0)
        return -1;
    pbuf e = {.n = 0};
    event_head(&e, 0);
    put_lendelim(&e, 3, "brain.Event:2", 13); /* file_version */
    return write_record(tb, &e) < 0 ? -1 : tboard_flush(tb);
}

int tboard_scalar(tboard *tb, const char *tag, int64_t step, float value)
{
    pbuf v = {.n = 0}, s = {.n = 0}, e = {.n = 0};
    put_lendelim(&v, 1, tag, strlen(tag)); /* Summary.Value.tag */
    put_varint(&v, 2 << 3 | 5);            /* simple_value: fixed32 float */
    put_bytes(&v, &value, sizeof value);
    put_lendelim(&s, 1, v.b, v.n); /* Summary.value */
    event_head(&e, step);
    put_lendelim(&e, 5, s.b, s.n); /* Event.summary */
    return write_record(tb, &e);
}

int tboard_flush(tboard *tb)
{
    if (fflush(tb->f) != 0)
        return err_errno("cannot write %s", tb->path);
    return 0;
}

int tboard_close(tboard *tb)
{
    if (!tb->f)
        return 0;
    int rc = fclose(tb->f) == 0 ? 0 : err_errno("cannot close %s", tb->path);
    tb->f = NULL;
    return rc;
}
