#include "trainer/stop.h"

#include <signal.h>
#include <string.h>

#include "util/err.h"

static volatile sig_atomic_t requested;

static void on_signal(int sig)
{
    /* A second Ctrl-C means now: the default action ends the process. */
    if (sig == SIGINT && requested == SIGINT) {
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    requested = sig;
}

int stop_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART; /* a signal must not fail a read or a write */
    const int sigs[] = {SIGUSR1, SIGTERM, SIGINT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return err_errno("sigaction(%s)", strsignal(sigs[i]));
    if (signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
        return err_errno("signal(SIGXFSZ)");
    return 0;
}

int stop_requested(void)
{
    return requested;
}
