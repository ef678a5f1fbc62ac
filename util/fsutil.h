/* fsutil: the few file-system operations that must be done carefully:
 * creating directories, and making a finished file durable under its final
 * name (write and fsync the file, rename, fsync the directory). */
#ifndef ACCEL_FSUTIL_H
#define ACCEL_FSUTIL_H

#include <stddef.h>

/* mkdir -p. */
int fs_mkdirs(const char *path);

/* Fails unless path is a directory this process can create files in. */
int fs_check_writable_dir(const char *path);

/* Creates path (it must not exist) holding the bytes, and flushes it. */
int fs_write_file(const char *path, const void *data, size_t size);

/* rename(tmp, final) then fsync(the directory): after it returns, `final`
 * survives a crash with the complete contents of tmp, which must already be
 * flushed (fs_write_file flushes). */
int fs_commit(const char *tmp, const char *final);

/* Fails unless the file system of dir has at least `bytes` free for this
 * process (quota-free blocks, as df reports). */
int fs_check_space(const char *dir, unsigned long long bytes, const char *what);

/* The directory part of path, into buf. */
void fs_dirname(const char *path, char *buf, size_t size);

#endif
