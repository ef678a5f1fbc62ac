/* steptime: where a step's time goes. The step is cut into phases by
 * laps of one clock: data (waiting for and staging batches), forward (and
 * the loss), backward, all-reduce (the part of it not hidden under
 * backward: the wait in gsync_finish), and the optimizer. On the CPU the
 * times are the host's wall clock. On a GPU, whose kernels run
 * asynchronously, every lap also records a CUDA event on the compute stream,
 * and steptime_device_ms gives the device's time in each phase of the last
 * step. */
#ifndef ACCEL_STEPTIME_H
#define ACCEL_STEPTIME_H

#include "kernels/backend.h"

enum { PHASE_DATA, PHASE_FORWARD, PHASE_BACKWARD, PHASE_ALLREDUCE, PHASE_OPTIMIZER, N_PHASES };

typedef struct {
    backend *be;             /* with mark_event, for device timing */
    double mark;             /* when the current phase began */
    double window[N_PHASES]; /* seconds since the last log line */
    double total[N_PHASES];  /* seconds over the run */
    int n_events;            /* this step's device events, and their phases */
    int event_phase[BACKEND_EVENTS];
} steptime;

int steptime_start(steptime *t);
/* Adds the time since the last mark to `phase` and marks now. */
int steptime_lap(steptime *t, int phase);
/* Milliseconds a step of the window, over `steps` steps; starts a new window. */
void steptime_window_ms(steptime *t, long steps, double ms[N_PHASES]);
/* The device's milliseconds in each phase of the last step; *have is 0 when
 * the backend has no device timing. */
int steptime_device_ms(steptime *t, double ms[N_PHASES], int *have);
/* "data", "forward", ... */
const char *steptime_name(int phase);

#endif
