/* checkpoint_open: a checkpoint opened for reading, after the checks every
 * reader makes first (its seal, ckpt_verify; that HDF5 can read it whole,
 * h5probe_file), so that a damaged file is told as one, not as a failed
 * HDF5 call. */
#ifndef ACCEL_CHECKPOINT_OPEN_H
#define ACCEL_CHECKPOINT_OPEN_H

#include <hdf5.h>

/* Opens path read-only into *file (to be H5Fclose'd). Returns 0, or
 * ckpt_verify's error, CKPT_DAMAGED, or -1 where H5Fopen fails. */
int ckpt_open_read(const char *path, hid_t *file);

#endif
