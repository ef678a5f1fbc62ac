/* workers: the CPU backend's own threads, for the passes OpenBLAS does not
 * make: elementwise math, softmax and layer-norm rows, dropout, the
 * optimizer. Without them, a rank with several cores runs its products on
 * all of them and everything else on one (measured on fortunes_gpt at 2
 * threads: a third of a step's time, with OpenBLAS's second thread
 * spinning idle meanwhile).
 *
 * A pass is split into contiguous ranges of independent items (elements,
 * rows, or columns of a sum whose order over rows is kept), so its result
 * is bitwise the same for any number of threads. Products are shared out
 * the same way (gemm.c), OpenBLAS then running on one thread: its own
 * threads would spin, waiting, through the other passes. Between passes
 * the helpers spin for a few tens of microseconds, then sleep. */
#ifndef ACCEL_CPU_WORKERS_H
#define ACCEL_CPU_WORKERS_H

#include <stddef.h>

typedef struct cpu_workers cpu_workers;

/* A pool for `threads` threads in all: the caller and threads - 1 helpers
 * (none for threads <= 1). NULL with the error set when a helper cannot be
 * started. */
cpu_workers *cpu_workers_open(int threads);

void cpu_workers_close(cpu_workers *w);

/* The threads a pass may run on, the caller's included: at most this many
 * ranges of a pass run at once (1 for NULL). */
int cpu_workers_threads(const cpu_workers *w);

/* Does items [from, to) of a pass. It runs on a helper thread or the
 * caller's, and must not run a pass of its own. */
typedef void (*cpu_range_fn)(void *arg, size_t from, size_t to);

/* Runs fn over items [0, n) in as many contiguous ranges as there are
 * threads, but none of fewer than `grain` items (one range, on the calling
 * thread, where n < 2 grain or w is NULL), the caller taking the first;
 * returns when every range is done. */
void cpu_workers_run(cpu_workers *w, size_t n, size_t grain, cpu_range_fn fn, void *arg);

/* Items of `per_item` floats that make a range worth a helper: about 128K
 * floats of elementwise work (tens of microseconds). Smaller ranges cost
 * more than they gained on the 2-core VM measured: fashion_mlp's passes
 * (AdamW's 235K parameters, 16K-float activations) split at 32K ran
 * slower than on one thread. */
size_t cpu_workers_grain(size_t per_item);

#endif
