/* stop: requests to end a run early, from signals.
 *
 * SIGUSR1 (a batch system's warning before the time limit), SIGTERM (a
 * preemption) and SIGINT (Ctrl-C) each ask the run to stop at the next step
 * boundary: every rank learns of it there (train.c), a checkpoint is
 * written, and the program exits with EXIT_STOPPED so a job script can
 * requeue itself. A second SIGINT ends the process at once. */
#ifndef ACCEL_STOP_H
#define ACCEL_STOP_H

#include <stdbool.h>

/* The exit status of a run stopped by a signal after its checkpoint. */
enum { EXIT_STOPPED = 3 };

/* Installs the handlers; also ignores SIGXFSZ, so that a write past a file
 * size limit fails with EFBIG (and is reported) instead of killing us. */
int stop_install(void);

/* The signal that asked to stop, or 0. */
int stop_requested(void);

#endif
