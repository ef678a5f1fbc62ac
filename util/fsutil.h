/* fsutil: the few file-system operations that must be done carefully:
 * creating directories, making a finished file durable under its final
 * name (write and fsync the file, rename, fsync the directory), and opening
 * an input that must be a regular file. */
#ifndef ACCEL_FSUTIL_H
#define ACCEL_FSUTIL_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

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

/* What a file of this mode is when it is not a regular file, for messages
 * ("a FIFO (named pipe)", "a character device", "a directory", ...); NULL
 * for a regular file. */
const char *fs_not_regular(mode_t mode);

/* Opens path (links followed) for reading, as long as it is a regular
 * file, and fills *st. Anything else is refused, "PATH is a FIFO (named
 * pipe), not a regular file": open() of a FIFO blocks until a writer comes
 * (forever, and SA_RESTART restarts it through SIGTERM), a device may never
 * end (/dev/zero) or act on being opened, a directory is no data. stat
 * tells first, so such a file is never opened; the open itself is
 * O_NONBLOCK and fstat checks again what was opened, so a path changed in
 * between cannot block either. The descriptor returned is blocking again
 * and O_CLOEXEC; -1 with err_set() (errno kept) when it fails. */
int fs_open_regular(const char *path, struct stat *st);

/* The directory part of path, into buf. */
void fs_dirname(const char *path, char *buf, size_t size);

#endif
