#include "util/h5probe.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/err.h"

/* The largest attribute value the walk reads: the project's own are a few
 * bytes; a larger one is still decoded (opened), just not read. */
#define PROBE_MAX_ATTR ((uint64_t)1 << 20)

static herr_t probe_attr(hid_t loc, const char *name, const H5A_info_t *info, void *op)
{
    (void)info, (void)op;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return 0;
    hid_t t = H5Aget_type(a), s = H5Aget_space(a);
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    size_t size = t >= 0 ? H5Tget_size(t) : 0;
    if (n > 0 && size > 0 && (uint64_t)n <= PROBE_MAX_ATTR / size) {
        void *buf = malloc((size_t)n * size);
        if (buf)
            H5Aread(a, t, buf); /* variable-length data it allocates is the child's to drop */
        free(buf);
    }
    return 0; /* no closes: the child exits without them */
}

static herr_t probe_object(hid_t root, const char *name, const H5O_info_t *info, void *op)
{
    (void)op;
    hid_t o = H5Oopen(root, name, H5P_DEFAULT);
    if (o < 0)
        return 0;
    H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, probe_attr, NULL);
    if (info->type == H5O_TYPE_DATASET) {
        hid_t s = H5Dget_space(o), p = H5Dget_create_plist(o);
        H5Dget_type(o);
        hsize_t chunks;
        if (s >= 0 && p >= 0 && H5Pget_layout(p) == H5D_CHUNKED)
            H5Dget_num_chunks(o, s, &chunks);
    }
    return 0;
}

/* The child: walks the file and says so by its exit status. What each
 * HDF5 call returns is not looked at: the walk asks only whether libhdf5
 * survives reading the metadata; the parent reads the file afterwards,
 * checking every call. */
static void walk(const char *path, const char *const *names)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        _exit(0);
    for (int i = 0; names && names[i]; i++)
        H5Lexists(f, names[i], H5P_DEFAULT);
    H5Ovisit2(f, H5_INDEX_NAME, H5_ITER_NATIVE, probe_object, NULL, H5O_INFO_BASIC);
    _exit(0);
}

/* Waits for the child; its status in *status. */
static int wait_child(pid_t pid, int *status, const char *subject)
{
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            return err_errno("%s: waitpid for the HDF5 probe", subject);
    return 0;
}

int h5probe_file(const char *path, const char *const *names, const char *subject)
{
    /* the library set up here, once, rather than in every child */
    if (H5open() < 0)
        return err_set("%s: H5open failed", subject);
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    if (pid < 0)
        return err_errno("%s: fork for the HDF5 probe", subject);
    if (pid == 0) {
        /* quiet: a sanitizer's or the library's report is the parent's to
         * summarize; SIGALRM's default action ends a walk that hangs */
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2(null, STDERR_FILENO);
        sigset_t alrm;
        sigemptyset(&alrm);
        sigaddset(&alrm, SIGALRM);
        sigprocmask(SIG_UNBLOCK, &alrm, NULL);
        signal(SIGALRM, SIG_DFL);
        alarm(H5PROBE_SECONDS);
        walk(path, names);
    }
    int status;
    if (wait_child(pid, &status, subject) < 0)
        return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
        return err_set("%s: reading its HDF5 metadata took over %d s; the file is malformed "
                       "(it was not read)",
                       subject, H5PROBE_SECONDS);
    char how[64];
    if (WIFSIGNALED(status))
        snprintf(how, sizeof how, "%s", strsignal(WTERMSIG(status)));
    else
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
    return err_set("%s: the HDF5 file is malformed: libhdf5 crashed reading its metadata (%s, "
                   "in a separate process; the file was not read)",
                   subject, how);
}
