/* dnn_pick: which of cuDNN's convolution algorithms a plan takes.
 *
 * cuDNN's heuristics (cudnnGet*Algorithm_v7) rank every algorithm for the
 * shapes at hand, fastest guess first, and say of each whether it supports
 * the shapes (status), whether it is deterministic, and the workspace it
 * wants. The first is not always usable: backward-filter algorithms 0 and
 * 3 and backward-data algorithm 0 sum with atomics, so two runs differ in
 * the last bits, and docs/gpus.md promises bitwise-repeatable runs. So a
 * plan takes the first candidate that is supported, deterministic (unless
 * run.deterministic = false) and within the workspace bound.
 *
 * Plain C over a neutral description, so the choice is unit-tested on any
 * machine (tests/unit/test_dnn_pick.c) with fabricated heuristics. */
#ifndef ACCEL_DNN_PICK_H
#define ACCEL_DNN_PICK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
    int algo;           /* cuDNN's algorithm number */
    bool supported;     /* status == CUDNN_STATUS_SUCCESS */
    bool deterministic; /* determinism == CUDNN_DETERMINISTIC */
    size_t workspace;   /* bytes (memory) */
} dnn_candidate;

/* The index in c[0..n) of the first candidate that is supported, within
 * max_workspace bytes and, when need_deterministic, deterministic; -1 when
 * none is. */
int dnn_pick(const dnn_candidate *c, int n, bool need_deterministic, size_t max_workspace);

#endif
