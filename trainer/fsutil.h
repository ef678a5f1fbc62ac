/* fsutil: the few file-system operations that must be done carefully:
 * creating directories, and making a finished file durable under its final
 * name (fsync the file, rename, fsync the directory). */
#ifndef ACCEL_FSUTIL_H
#define ACCEL_FSUTIL_H

#include <stddef.h>

/* mkdir -p. */
int fs_mkdirs(const char *path);

/* Fails unless path is a directory this process can create files in. */
int fs_check_writable_dir(const char *path);

/* fsync(path) then rename(tmp, final) then fsync(the directory): after it
 * returns, `final` survives a crash with the complete contents of tmp. */
int fs_commit(const char *tmp, const char *final);

/* The directory part of path, into buf. */
void fs_dirname(const char *path, char *buf, size_t size);

#endif
