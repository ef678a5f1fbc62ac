/* backend: the compute operations the trainer needs, as a table of functions
 * chosen at run time (run.device = auto | cpu | cuda).
 *
 * All float pointers passed to an operation are backend memory (from
 * ->alloc); host memory crosses only through ->upload and ->download.
 * Matrices are row-major. Every operation returns 0, or -1 with err_set()
 * naming the failed call. */
#ifndef ACCEL_BACKEND_H
#define ACCEL_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/math.h"

typedef struct backend backend;

struct backend {
    const char *name;
    void *impl; /* the backend's own state */

    int (*alloc)(backend *be, void **out, size_t bytes); /* zero-filled */
    void (*release)(backend *be, void *p);
    int (*upload)(backend *be, void *dst, const void *src, size_t bytes);
    int (*download)(backend *be, void *dst, const void *src, size_t bytes);
    int (*copy)(backend *be, void *dst, const void *src, size_t bytes);

    /* C = alpha * op(A) * op(B) + beta * C; op(A) is m x k, op(B) k x n. */
    int (*gemm)(backend *be, bool trans_a, bool trans_b, int m, int n, int k, float alpha,
                const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);

    /* y[r][c] = act(z[r][c] + bias[c]); z is updated in place to the
     * pre-activation. y may be z itself when the activation's gradient does
     * not need the input (math_act_grad_needs_input). */
    int (*bias_act_forward)(backend *be, float *z, float *y, const float *bias, int rows, int cols,
                            act_kind act);

    /* dz = dy * act'(z, y), elementwise over n; dz may be dy. */
    int (*act_backward)(backend *be, float *dz, const float *dy, const float *z, const float *y,
                        size_t n, act_kind act);

    /* db[c] = sum over rows of dz[r][c]. */
    int (*bias_grad)(backend *be, float *db, const float *dz, int rows, int cols);

    /* Softmax cross-entropy over rows of `cols` logits. For each row writes
     * stats[2r] = its loss and stats[2r+1] = 1 if the arg-max is the label,
     * else 0. When dz is not NULL, also dz = scale * d loss / d logits. */
    int (*xent)(backend *be, const float *z, const int32_t *labels, int rows, int cols, float scale,
                float *dz, float *stats);

    /* y = x * dropout mask; the mask of element i is keyed by (seed, layer,
     * step, first + i), where `first` is the global index of x[0]. */
    int (*dropout_forward)(backend *be, float *y, const float *x, size_t n, float rate,
                           uint64_t seed, uint32_t layer, uint32_t step, uint64_t first);
    /* dx = dy * the same mask. */
    int (*dropout_backward)(backend *be, float *dx, const float *dy, size_t n, float rate,
                            uint64_t seed, uint32_t layer, uint32_t step, uint64_t first);

    /* *out (host) = sum of x[i]^2, accumulated in double. */
    int (*sumsq)(backend *be, const float *x, size_t n, double *out);

    /* One AdamW step over flat buffers of n parameters. */
    int (*adam)(backend *be, float *p, const float *g, float *m, float *v, size_t n,
                const adam_hyper *h);

    void (*destroy)(backend *be);
};

typedef enum { DEVICE_AUTO = 0, DEVICE_CPU, DEVICE_CUDA } device_kind;

/* Opens the backend for `device`. threads is the CPU thread count (0 =
 * choose). Fails with a clear message when the device cannot be had.
 * *note receives a line worth telling the user (or NULL). */
backend *backend_open(device_kind device, int threads, const char **note);
void backend_close(backend *be);

/* The CPU backend (kernels/cpu/). */
backend *backend_cpu_open(int threads);

#endif
