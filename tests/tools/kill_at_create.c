/* kill_at_create: SIGKILL to processes the moment a file is created, for
 * the chaos test's kills during a checkpoint write.
 *   kill_at_create DIR PREFIX DELAY_US TIMEOUT_S WRITER [PID...]
 * Waits (inotify) for a file whose name begins with PREFIX to be created
 * in DIR (a checkpoint's temporary file, .ckpt-), sleeps DELAY_US
 * microseconds, sends SIGKILL to WRITER and every PID (the rest of its
 * node, say, some of which may have ended meanwhile), and says whether
 * the file was still there just after (the kill then landed before the
 * write was renamed into place) in one line:
 *   killed 2 processes 1234 us after .ckpt-40.h5.tmp.5678 appeared: still there
 * Polling from a shell would see a write of a few milliseconds only now
 * and then; inotify wakes this process as the file is made.
 * Exits 0 once it has killed; 2 when no such file appeared within
 * TIMEOUT_S; 3 when WRITER was gone first (nothing is killed then); 4 on
 * a bad command line or a failed call. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long number(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0) {
        fprintf(stderr, "kill_at_create: %s wants a number >= 0, got '%s'\n", what, s);
        exit(4);
    }
    return v;
}

/* The name of the first file created in the events of buf that begins
 * with prefix, or NULL. */
static const char *created(const char *buf, ssize_t len, const char *prefix)
{
    for (const char *p = buf; p < buf + len;) {
        const struct inotify_event *e = (const struct inotify_event *)p;
        if ((e->mask & IN_CREATE) && e->len && !strncmp(e->name, prefix, strlen(prefix)))
            return e->name;
        p += sizeof *e + e->len;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: kill_at_create DIR PREFIX DELAY_US TIMEOUT_S WRITER [PID...]\n");
        return 4;
    }
    const char *dir = argv[1], *prefix = argv[2];
    long delay_us = number(argv[3], "DELAY_US"), timeout_s = number(argv[4], "TIMEOUT_S");
    enum { MAX_PIDS = 64 };
    pid_t pids[MAX_PIDS];
    int n = argc - 5;
    if (n > MAX_PIDS) {
        fprintf(stderr, "kill_at_create: at most %d PIDs, got %d\n", MAX_PIDS, n);
        return 4;
    }
    for (int i = 0; i < n; i++)
        pids[i] = (pid_t)number(argv[5 + i], "PID");

    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0 || inotify_add_watch(fd, dir, IN_CREATE) < 0) {
        fprintf(stderr, "kill_at_create: watching %s: %s\n", dir, strerror(errno));
        return 4;
    }
    /* room for at least one event of the longest name */
    _Alignas(struct inotify_event) char buf[sizeof(struct inotify_event) + NAME_MAX + 1 + 4096];
    double deadline = now_s() + (double)timeout_s;
    const char *name = NULL;
    while (!name) {
        if (kill(pids[0], 0) < 0 && errno == ESRCH) {
            printf("process %d was gone before a %s file appeared in %s\n", (int)pids[0], prefix,
                   dir);
            return 3;
        }
        if (now_s() > deadline) {
            printf("no %s file appeared in %s within %ld s\n", prefix, dir, timeout_s);
            return 2;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, 100); /* a tenth of a second, to look at the pids */
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "kill_at_create: poll: %s\n", strerror(errno));
            return 4;
        }
        if (r <= 0)
            continue;
        ssize_t len = read(fd, buf, sizeof buf);
        if (len < 0 && errno != EINTR && errno != EAGAIN) {
            fprintf(stderr, "kill_at_create: read: %s\n", strerror(errno));
            return 4;
        }
        if (len > 0)
            name = created(buf, len, prefix);
    }
    struct timespec wait = {.tv_sec = delay_us / 1000000, .tv_nsec = (delay_us % 1000000) * 1000};
    while (nanosleep(&wait, &wait) < 0 && errno == EINTR)
        ;
    for (int i = 0; i < n; i++)
        kill(pids[i], SIGKILL);
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int there = stat(path, &st) == 0;
    printf("killed %d process%s %ld us after %s appeared: %s\n", n, n == 1 ? "" : "es", delay_us,
           name, there ? "still there" : "already renamed");
    return 0;
}
