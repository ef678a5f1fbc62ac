#include "data/h5chunks.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/err.h"

enum { MAX_RANK = 8 };

struct h5chunks {
    hid_t d;
    char what[256];
    int rank;
    hsize_t chunk[MAX_RANK], grid[MAX_RANK]; /* chunk shape; chunks along each axis */
    uint64_t per_row;                        /* chunks in one step of the first axis */
    uint64_t n_chunks;
    size_t bytes;          /* of a chunk, unpacked */
    int deflate, fletcher; /* their places in the pipeline, -1 when absent */
    unsigned char *done;   /* a bit a chunk: checked */
    unsigned char *raw, *out;
    size_t raw_cap;
};

static int fail(const h5chunks *c, const char *call)
{
    return err_set("%s: %s failed: the file is damaged or not HDF5 as accel-train reads it",
                   c->what, call);
}

/* The pipeline's filters: their places, and a refusal of any other. */
static int read_filters(h5chunks *c, hid_t dcpl, int n)
{
    c->deflate = c->fletcher = -1;
    for (int i = 0; i < n; i++) {
        unsigned flags, config;
        size_t nvalues = 0;
        char name[64] = "";
        H5Z_filter_t id =
            H5Pget_filter2(dcpl, (unsigned)i, &flags, &nvalues, NULL, sizeof name, name, &config);
        if (id == H5Z_FILTER_DEFLATE)
            c->deflate = i;
        else if (id == H5Z_FILTER_FLETCHER32)
            c->fletcher = i;
        else if (id < 0)
            return fail(c, "H5Pget_filter2");
        else if (id != H5Z_FILTER_SHUFFLE) /* shuffle keeps the size */
            return err_set("%s is stored through HDF5 filter %d (%s), which accel-train does not "
                           "read: store it uncompressed or with gzip",
                           c->what, (int)id, name[0] ? name : "unnamed");
    }
    return 0;
}

/* The chunk grid, the chunk's size in bytes and the bitmap. */
static int read_grid(h5chunks *c, hid_t dcpl)
{
    hid_t space = H5Dget_space(c->d), type = H5Dget_type(c->d);
    hsize_t dims[MAX_RANK];
    int rank = space < 0 ? -1 : H5Sget_simple_extent_ndims(space);
    bool ok = rank >= 1 && rank <= MAX_RANK &&
              H5Sget_simple_extent_dims(space, dims, NULL) == rank &&
              H5Pget_chunk(dcpl, rank, c->chunk) == rank && type >= 0;
    c->bytes = ok ? H5Tget_size(type) : 0;
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (!ok || c->bytes == 0)
        return fail(c, "reading the chunk layout");
    c->rank = rank;
    c->n_chunks = 1;
    for (int i = 0; i < rank; i++) {
        if (c->chunk[i] == 0 || c->bytes > UINT_MAX / c->chunk[i])
            return err_set("%s has chunks of more than 4 GiB", c->what);
        c->bytes *= c->chunk[i];
        c->grid[i] = (dims[i] + c->chunk[i] - 1) / c->chunk[i];
        if (c->grid[i] && c->n_chunks > ((uint64_t)1 << 40) / c->grid[i])
            return err_set("%s has too many chunks", c->what);
        c->n_chunks *= c->grid[i];
    }
    c->per_row = c->grid[0] ? c->n_chunks / c->grid[0] : 0;
    c->done = calloc(c->n_chunks / 8 + 1, 1);
    c->out = malloc(c->bytes + 1);
    if (!c->done || !c->out)
        return err_set("%s: out of memory for its chunk checks", c->what);
    return 0;
}

int h5chunks_open(h5chunks **out, hid_t d, const char *what)
{
    *out = NULL;
    hid_t dcpl = H5Dget_create_plist(d);
    if (dcpl < 0)
        return err_set("%s: H5Dget_create_plist failed", what);
    /* a layout that cannot be read is a failure, not an unfiltered
     * dataset: its chunks would go to libhdf5 unchecked */
    H5D_layout_t layout = H5Pget_layout(dcpl);
    int n = layout == H5D_CHUNKED ? H5Pget_nfilters(dcpl) : 0;
    if (layout == H5D_LAYOUT_ERROR || n <= 0) {
        H5Pclose(dcpl);
        return layout == H5D_LAYOUT_ERROR ? err_set("%s: H5Pget_layout failed", what)
               : n < 0                    ? err_set("%s: H5Pget_nfilters failed", what)
                                          : 0;
    }
    h5chunks *c = calloc(1, sizeof *c);
    if (!c) {
        H5Pclose(dcpl);
        return err_set("%s: out of memory for its chunk checks", what);
    }
    c->d = d;
    snprintf(c->what, sizeof c->what, "%s", what);
    int rc = read_filters(c, dcpl, n);
    if (rc == 0)
        rc = read_grid(c, dcpl);
    H5Pclose(dcpl);
    if (rc < 0) {
        h5chunks_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

/* What the raw chunk's n bytes unpack to: Fletcher-32 (applied last, so
 * undone first) takes 4 bytes off; inflate must give exactly c->bytes. A
 * filter whose bit is set in mask was skipped for this chunk. */
static bool unpacks_whole(h5chunks *c, size_t n, unsigned mask)
{
    if (c->fletcher >= 0 && !(mask & (1u << c->fletcher))) {
        if (n < 4)
            return false;
        n -= 4;
    }
    if (c->deflate < 0 || (mask & (1u << c->deflate)))
        return n == c->bytes;
    if (n > UINT_MAX)
        return false;
    z_stream z = {.next_in = c->raw, .avail_in = (uInt)n};
    z.next_out = c->out;
    z.avail_out = (uInt)c->bytes + 1; /* one more, to tell a stream that is too long */
    int rc = inflateInit(&z);
    if (rc == Z_OK)
        rc = inflate(&z, Z_FINISH);
    bool whole = rc == Z_STREAM_END && z.total_out == c->bytes;
    inflateEnd(&z);
    return whole;
}

/* Chunk k (in row-major order over the grid). */
static int check_chunk(h5chunks *c, uint64_t k)
{
    hsize_t offset[MAX_RANK], size = 0;
    haddr_t addr;
    unsigned mask = 0;
    for (int i = c->rank - 1; i >= 0; i--) {
        offset[i] = (k % c->grid[i]) * c->chunk[i];
        k /= c->grid[i];
    }
    if (H5Dget_chunk_info_by_coord(c->d, offset, &mask, &addr, &size) < 0)
        return fail(c, "H5Dget_chunk_info_by_coord");
    if (addr == HADDR_UNDEF)
        return err_set("%s was never written in full (a chunk has no storage)", c->what);
    if (size > c->raw_cap) {
        unsigned char *p = realloc(c->raw, size);
        if (!p)
            return err_set("%s: out of memory for a chunk of %llu bytes", c->what,
                           (unsigned long long)size);
        c->raw = p;
        c->raw_cap = size;
    }
    if (H5Dread_chunk(c->d, H5P_DEFAULT, offset, &mask, c->raw) < 0)
        return fail(c, "H5Dread_chunk");
    if (!unpacks_whole(c, size, mask))
        return err_set("%s is damaged: a chunk of %llu stored bytes does not unpack to the "
                       "%zu it holds",
                       c->what, (unsigned long long)size, c->bytes);
    return 0;
}

int h5chunks_check(h5chunks *c, hsize_t first, hsize_t count)
{
    if (!c || count == 0)
        return 0;
    uint64_t from = first / c->chunk[0] * c->per_row;
    uint64_t to = ((first + count - 1) / c->chunk[0] + 1) * c->per_row;
    for (uint64_t k = from; k < to && k < c->n_chunks; k++) {
        if (c->done[k / 8] & (1u << (k % 8)))
            continue;
        if (check_chunk(c, k) < 0)
            return -1;
        c->done[k / 8] |= (unsigned char)(1u << (k % 8));
    }
    return 0;
}

void h5chunks_close(h5chunks *c)
{
    if (!c)
        return;
    free(c->done);
    free(c->raw);
    free(c->out);
    free(c);
}
