/* h5util: HDF5 error reporting in this project's style: one line naming the
 * call, the object and the file, with HDF5's own innermost reason (what went
 * wrong; the outer entries of HDF5's stack say only where). */
#ifndef ACCEL_H5UTIL_H
#define ACCEL_H5UTIL_H

#include <hdf5.h>
#include <stddef.h>

/* "(a, b, c)": a dataset's dimensions, for messages. */
void h5util_shape_text(char *buf, size_t size, int rank, const hsize_t *dims);

/* Turns off HDF5's printing of its error stack to stderr. */
void h5util_quiet(void);

/* Records "<context>: HDF5 <call>(<object>) failed: <reason>" and clears
 * HDF5's error stack. Returns -1. */
int h5util_fail_in(const char *context, const char *call, const char *object);

/* h5util_fail_in with the context "checkpoint <path>". */
int h5util_fail(const char *call, const char *object, const char *path);

#endif
