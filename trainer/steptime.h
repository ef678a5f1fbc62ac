/* steptime: where a step's time goes. The step is cut into phases by
 * laps of one clock: data (waiting for and staging batches), forward (and
 * the loss), backward, all-reduce (the part of it not hidden under
 * backward: the wait in gsync_finish), and the optimizer. Times are the
 * host's wall clock; on a GPU, whose kernels run asynchronously, a phase
 * shows where the host waited, not where the device worked. */
#ifndef ACCEL_STEPTIME_H
#define ACCEL_STEPTIME_H

enum { PHASE_DATA, PHASE_FORWARD, PHASE_BACKWARD, PHASE_ALLREDUCE, PHASE_OPTIMIZER, N_PHASES };

typedef struct {
    double mark;             /* when the current phase began */
    double window[N_PHASES]; /* seconds since the last log line */
    double total[N_PHASES];  /* seconds over the run */
} steptime;

void steptime_start(steptime *t);
/* Adds the time since the last mark to `phase` and marks now. */
void steptime_lap(steptime *t, int phase);
/* Milliseconds a step of the window, over `steps` steps; starts a new window. */
void steptime_window_ms(steptime *t, long steps, double ms[N_PHASES]);
/* "data", "forward", ... */
const char *steptime_name(int phase);

#endif
