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
    char description[256]; /* what it runs on, e.g. the GPU and its PCI bus id */
    void *impl;            /* the backend's own state */

    /* Backend memory. Everything is allocated at start-up, never in the step
     * loop; bytes_allocated counts it. */
    int (*alloc)(backend *be, void **out, size_t bytes); /* zero-filled */
    void (*release)(backend *be, void *p);
    size_t bytes_allocated;
    /* Synchronous copies: when upload returns, src may be reused; when
     * download returns, dst holds the data. */
    int (*upload)(backend *be, void *dst, const void *src, size_t bytes);
    int (*download)(backend *be, void *dst, const void *src, size_t bytes);
    int (*copy)(backend *be, void *dst, const void *src, size_t bytes);

    /* Host memory the device copies from fastest (pinned on a GPU). */
    int (*host_alloc)(backend *be, void **out, size_t bytes);
    void (*host_release)(backend *be, void *p);

    /* Input staging, double-buffered by slot (0 or 1), so the copy of the
     * next batch overlaps the computation of this one:
     *   upload_async     starts copying src (host_alloc memory) to dst once
     *                    the slot's previous batch is consumed;
     *   input_wait       makes the next computation wait for the slot's copies;
     *   input_done       marks the slot's batch consumed (after its step);
     *   input_host_wait  blocks until the slot's copies are done, so its host
     *                    buffer may be refilled. */
    int (*upload_async)(backend *be, int slot, void *dst, const void *src, size_t bytes);
    int (*input_wait)(backend *be, int slot);
    int (*input_done)(backend *be, int slot);
    int (*input_host_wait)(backend *be, int slot);

    /* The stream computations run on (a cudaStream_t), NULL on the CPU:
     * for a communicator that must order itself with them. */
    void *stream;

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

typedef struct {
    device_kind device;
    int threads;           /* CPU threads for the math */
    bool tf32;             /* TF32 tensor cores for matrix products (GPU) */
    int local_rank;        /* picks the GPU: local_rank % visible GPUs */
    int local_size;        /* ranks on this node */
    bool allow_shared_gpu; /* let more ranks than GPUs share them */
} backend_options;

/* Opens the backend the options ask for: auto takes a GPU when this build
 * has the CUDA backend and a GPU is usable, and the CPU otherwise. Fails
 * with a clear message when the device asked for cannot be had. *note
 * receives a line worth telling the user once (or NULL), e.g. why auto fell
 * back to the CPU; it lives as long as the program. */
backend *backend_open(const backend_options *o, const char **note);
void backend_close(backend *be);

/* The CPU backend (kernels/cpu/). */
backend *backend_cpu_open(int threads);

/* The CUDA backend (kernels/cuda/), in builds that have it. cuda_usable
 * says whether a GPU can be used here, and if not, why (in *why). */
bool backend_cuda_usable(const char **why);

/* The versions of the libraries the build runs on, one per line (for
 * --version and the GPU check kit's results). */
void backend_versions(char *buf, size_t size);
void backend_cuda_versions(char *buf, size_t size);
backend *backend_cuda_open(const backend_options *o);

#endif
