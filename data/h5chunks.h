/* h5chunks: makes sure each filtered chunk of an HDF5 dataset unpacks to
 * exactly its size before libhdf5 reads it.
 *
 * libhdf5 1.10 trusts what a filter returns: a damaged chunk that inflates
 * to fewer bytes than the chunk holds is then copied from past the end of
 * its buffer, a heap over-read (found by fuzzing: tests/fuzz/corpus/
 * hdf5_data). Its predefined filters cannot be replaced (H5Zregister
 * refuses ids below 256), so each chunk is checked here once, the first
 * time a read needs it: its raw bytes (H5Dread_chunk) are inflated into a
 * buffer of the chunk's size, which the stream must fill exactly. Filters
 * other than gzip (deflate), shuffle and Fletcher-32 are refused. The first
 * pass over a compressed split thus inflates each chunk twice; later ones
 * find every chunk checked. */
#ifndef ACCEL_H5CHUNKS_H
#define ACCEL_H5CHUNKS_H

#include <hdf5.h>

typedef struct h5chunks h5chunks;

/* The checker of dataset d, `what` naming it in messages ("data.train:
 * f.h5: /images"); *out is NULL when d has no filters (nothing to check).
 * Refuses filters it cannot check. */
int h5chunks_open(h5chunks **out, hid_t d, const char *what);

/* Checks every chunk holding elements [first, first + count) of the first
 * axis that was not checked before. */
int h5chunks_check(h5chunks *c, hsize_t first, hsize_t count);

void h5chunks_close(h5chunks *c);

#endif
