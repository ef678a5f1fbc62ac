#include "util/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "util/err.h"

int fs_mkdirs(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return err_set("path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(buf, 0777) < 0 && errno != EEXIST)
            return err_errno("cannot create directory %s", buf);
        *p = saved;
        if (!saved)
            break;
    }
    struct stat st;
    if (stat(path, &st) < 0)
        return err_errno("cannot stat %s", path);
    if (!S_ISDIR(st.st_mode))
        return err_set("%s exists and is not a directory", path);
    return 0;
}

int fs_check_writable_dir(const char *path)
{
    if (access(path, W_OK | X_OK) < 0)
        return err_errno("directory %s is not writable", path);
    return 0;
}

int fs_check_space(const char *dir, unsigned long long bytes, const char *what)
{
    struct statvfs sv;
    if (statvfs(dir, &sv) < 0)
        return err_errno("cannot see the free space of %s", dir);
    unsigned long long free_bytes = (unsigned long long)sv.f_bavail * sv.f_frsize;
    if (free_bytes < bytes)
        return err_set("%s has %.1f MiB free, but %s needs about %.1f MiB", dir,
                       (double)free_bytes / (1 << 20), what, (double)bytes / (1 << 20));
    return 0;
}

/* Flushes fd (opened on path) to the disk and closes it, either way. */
static int sync_close(int fd, const char *path)
{
    if (fsync(fd) < 0) {
        err_errno("fsync %s", path);
        close(fd);
        return -1;
    }
    if (close(fd) < 0)
        return err_errno("close %s", path);
    return 0;
}

int fs_write_file(const char *path, const void *data, size_t size)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0)
        return err_errno("cannot create %s", path);
    const char *p = data;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, p + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err_errno("cannot write %s (%zu of %zu bytes written)", path, done, size);
            close(fd);
            return -1;
        }
        done += (size_t)n;
    }
    return sync_close(fd, path);
}

static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0)
        return err_errno("cannot open %s to flush it", path);
    return sync_close(fd, path);
}

const char *fs_not_regular(mode_t mode)
{
    if (S_ISREG(mode))
        return NULL;
    if (S_ISFIFO(mode))
        return "a FIFO (named pipe)";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a directory";
    return S_ISLNK(mode) ? "a symbolic link" : "not a file";
}

/* errno says "not this kind of file", not whatever an earlier call left
 * there: callers look at it (EMFILE: close some and try again). */
static int refuse_kind(const char *path, mode_t mode)
{
    errno = EINVAL;
    return err_set("%s is %s, not a regular file", path, fs_not_regular(mode));
}

/* What fd, just opened from path, is: the path may name another file than
 * it did at stat. */
static int check_opened(int fd, const char *path, struct stat *st)
{
    if (fstat(fd, st) < 0)
        return err_errno("cannot stat %s", path);
    if (!S_ISREG(st->st_mode))
        return refuse_kind(path, st->st_mode);
    /* O_NONBLOCK was for the open alone; whoever reads the descriptor
     * expects the blocking reads of a regular file */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        return err_errno("cannot clear O_NONBLOCK on %s", path);
    return 0;
}

int fs_open_regular(const char *path, struct stat *st)
{
    if (stat(path, st) < 0)
        return err_errno("cannot open %s", path);
    if (!S_ISREG(st->st_mode))
        return refuse_kind(path, st->st_mode);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return err_errno("cannot open %s", path);
    if (check_opened(fd, path, st) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

void fs_dirname(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash)
        snprintf(buf, size, ".");
    else if (slash == buf)
        buf[1] = '\0';
    else
        *slash = '\0';
}

int fs_commit(const char *tmp, const char *final)
{
    if (rename(tmp, final) < 0)
        return err_errno("cannot rename %s to %s", tmp, final);
    char dir[4096];
    fs_dirname(final, dir, sizeof dir);
    return fsync_path(dir, O_RDONLY | O_DIRECTORY);
}
