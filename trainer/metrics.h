/* metrics: metrics.jsonl in the run directory, one JSON object per line,
 * flushed as it is written so a crash loses nothing logged:
 *   {"step":..,"epoch":..,"loss":..,"lr":..,"samples_per_s":..,"grad_norm":..}
 *     "data_ms","forward_ms","backward_ms","allreduce_ms","optimizer_ms": the
 *     mean time a step spent in each phase since the last record (steptime.h)
 *     (and "skipped": updates skipped so far for a non-finite loss, when any;
 *     "mfu": model FLOP utilization against the GPU's peak rate of matrix
 *     products at train.precision, on GPUs)
 *   {"split":"test","epoch":..,"step":..,"loss":..,"accuracy":..}
 * Only rank 0 writes it. Every value also goes to a TensorBoard event file
 * beside it (tboard.h), as train/loss, train/lr, train/samples_per_s,
 * train/grad_norm, test/loss and test/accuracy. */
#ifndef ACCEL_METRICS_H
#define ACCEL_METRICS_H

#include <stdio.h>

#include "trainer/steptime.h"
#include "trainer/tboard.h"

typedef struct {
    FILE *f;
    char path[4096];
    tboard tb; /* the same values for TensorBoard: train/..., test/... */
} metrics;

/* Creates (or, with append, extends) <dir>/metrics.jsonl. */
int metrics_open(metrics *mt, const char *dir, int append);

int metrics_train(metrics *mt, long step, long epoch, double loss, double lr, double samples_per_s,
                  double grad_norm, long skipped, const double *phase_ms, double mfu);
/* unit: "byte" or "token" adds the loss in bits per that unit
 * (bits_per_byte, bits_per_token); NULL, none (a classifier). A token's
 * mean bytes of text, bytes_per_token, above 0 (a tokenizer's), adds
 * bits_per_byte beside bits_per_token. */
int metrics_eval(metrics *mt, const char *split, long epoch, long step, double loss,
                 double accuracy, const char *unit, double bytes_per_token);
int metrics_close(metrics *mt);

#endif
