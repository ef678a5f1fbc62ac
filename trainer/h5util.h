/* h5util: HDF5 error reporting in this project's style: one line naming the
 * call, the object and the file, with HDF5's own innermost reason. */
#ifndef ACCEL_H5UTIL_H
#define ACCEL_H5UTIL_H

/* Turns off HDF5's printing of its error stack to stderr. */
void h5util_quiet(void);

/* Records "checkpoint <path>: HDF5 <call>(<object>) failed: <reason>" and
 * clears HDF5's error stack. Returns -1. */
int h5util_fail(const char *call, const char *object, const char *path);

#endif
