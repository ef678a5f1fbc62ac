/* progress: what a person watching the run sees on stdout.
 *
 * On a terminal, one live line redrawn in place (a bar, step, epoch, loss,
 * samples/s, ETA), at most ten times a second; evaluation results and other
 * messages print above it. Elsewhere (a log file, a batch job), one plain
 * line every log_every steps. Jobs of several ranks always get plain lines:
 * mpirun hands its ranks a pseudo-terminal even when its own output goes to
 * a file, so a terminal there says nothing about who reads it.
 *
 * Its writes and flushes go unchecked on purpose: the run's record is the
 * metrics file and the checkpoints, whose writes are checked, and a closed
 * terminal or a full log disk should not end a training run. */
#ifndef ACCEL_PROGRESS_H
#define ACCEL_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    bool live;        /* redraw one line in place */
    double last_draw; /* seconds, monotonic */
    double start;
    long first_step; /* where this process started counting */
    long total_steps;
    long epochs;
    bool drawn; /* a live line is on screen */
} progress;

double progress_now(void);

/* live_ok: whether a live line may be used at all (a single-rank job). */
void progress_init(progress *p, FILE *out, bool live_ok, long first_step, long total_steps,
                   long epochs);

/* Called every step; step is the count of updates done. `logged` says this
 * step is a log step (plain mode prints only then). */
void progress_step(progress *p, long step, long epoch, double loss, double lr, double samples_per_s,
                   bool logged);

/* Prints a line of its own (above the live line, on a terminal). */
void progress_message(progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void progress_finish(progress *p);

#endif
