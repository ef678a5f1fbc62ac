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

#ifdef __cplusplus
extern "C" {
#endif

typedef struct backend backend;

enum { BACKEND_EVENTS = 8 };

/* The precision of matrix products (train.precision): their inputs as
 * float32, or rounded to TF32 (10 fraction bits) or bfloat16 (7), the
 * products accumulated in float32 either way. Only the products' inputs
 * change: everything is stored in float32, so the optimizer updates float32
 * master weights and checkpoints hold them. A GPU runs the rounded kinds on
 * tensor cores; the CPU emulates their rounding (kernels/cpu/gemm.c). */
typedef enum { PRECISION_FP32 = 0, PRECISION_TF32, PRECISION_BF16 } precision_kind;

/* Fraction bits a precision keeps of float32's 23. */
static inline int precision_bits(precision_kind p)
{
    return p == PRECISION_BF16 ? 7 : p == PRECISION_TF32 ? 10 : 23;
}

/* Convolutions run one step coarser than bf16 allows: cuDNN has no
 * bfloat16 arithmetic for float32 tensors, only TF32, so a bf16 run's
 * convolutions take TF32 inputs on both backends. */
static inline precision_kind precision_of_conv(precision_kind p)
{
    return p == PRECISION_BF16 ? PRECISION_TF32 : p;
}

/* The geometry of a convolution: NCHW input and output, square kernel. */
typedef struct {
    int in_c, in_h, in_w;
    int out_c, out_h, out_w;
    int k, stride, pad;
} conv_geom;

/* The geometry of a pooling: channels stay, windows of k_h x k_w. */
typedef struct {
    int c, in_h, in_w, out_h, out_w;
    int k_h, k_w, stride, pad;
    bool max; /* else average */
} pool_geom;

/* Fused causal self-attention's shape and dropout (attention_forward,
 * attention_backward). qkv is (rows, t, 3c): each position's queries,
 * keys and values, c features each, in `heads` heads of c / heads. */
typedef struct {
    int rows, t, c, heads;
    int q0, nq;  /* the queries computed: positions q0 .. q0 + nq - 1 of each row */
    float scale; /* of the scores q.k: 1 / sqrt(c / heads) */
    /* Dropout on the attention weights (rate 0: none), with dropout_forward's
     * mask: weight (r, h, i, j), query i and key j of head h in row r, has
     * index first + ((r * heads + h) * t + i) * t + j, the position it had
     * in the unfused path's (rows, heads, t, t) weights. */
    float rate;
    uint64_t seed, first;
    uint32_t layer, step;
} attn_args;

/* The compute operations, each declared once here as
 *     X(return type, name, (parameters after the backend))
 * and called as be->name(be, ...). From this list come the members of
 * struct backend (BACKEND_OP_MEMBER), the declarations of each backend's
 * functions, and each backend's table, filled by name: the CPU backend's
 * cpu_<name> (a file of kernels/cpu), the CUDA backend's gpu_<name> (a file
 * of kernels/cuda, kernel and launcher together). So a backend without an
 * operation does not link; one it deliberately lacks is a stub that fails
 * with a message saying so.
 *
 * A new operation: its line here, cpu_<name> in kernels/cpu/<concept>.c and
 * gpu_<name> in kernels/cuda/<concept>.cu (CMake finds the files), and its
 * tests (tests/unit/test_kernels.c, tests/gpu/test_gpu_ops.c). */
#define BACKEND_OPS(X)                                                                             \
    /* C = alpha * op(A) * op(B) + beta * C; op(A) is m x k, op(B) k x n;                          \
     * A and B taken at be->precision. */                                                          \
    X(int, gemm,                                                                                   \
      (bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,      \
       const float *b, int ldb, float beta, float *c, int ldc))                                    \
    /* gemm over `batch` independent products: product i takes a + i * stride_a,                   \
     * b + i * stride_b and c + i * stride_c (strides in floats), in order                         \
     * (attention's per-head products, the heads read in place through the                         \
     * leading dimensions). */                                                                     \
    X(int, gemm_strided_batched,                                                                   \
      (bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,      \
       long long stride_a, const float *b, int ldb, long long stride_b, float beta, float *c,      \
       int ldc, long long stride_c, int batch))                                                    \
                                                                                                   \
    /* Over tensors of (outer, channels, inner) -- (rows, features, 1) for a                       \
     * dense layer, (rows, C, H*W) for a convolution --                                            \
     * y = act(z + bias[channel]), with z updated in place to the                                  \
     * pre-activation; bias may be NULL (none). y may be z itself when the                         \
     * activation's gradient does not need the input                                               \
     * (math_act_grad_needs_input). */                                                             \
    X(int, bias_act_forward,                                                                       \
      (float *z, float *y, const float *bias, int outer, int channels, int inner, act_kind act))   \
    /* dz = dy * act'(z, y), elementwise over n; dz may be dy. */                                  \
    X(int, act_backward,                                                                           \
      (float *dz, const float *dy, const float *z, const float *y, size_t n, act_kind act))        \
    /* db[c] = sum over outer and inner of dz[o][c][i]. */                                         \
    X(int, bias_grad, (float *db, const float *dz, int outer, int channels, int inner))            \
    /* y = a + b, elementwise over n (y may be a or b). */                                         \
    X(int, add, (float *y, const float *a, const float *b, size_t n))                              \
                                                                                                   \
    /* Convolution (cross-correlation, as PyTorch and cuDNN) of NCHW rows with                     \
     * weights (out_c, in_c, k, k). A plan, made once at start-up, holds what                      \
     * the backend chose and its workspace: algorithms are chosen for training                     \
     * batches of train_rows; max_rows (at least as many: evaluation's) only                       \
     * sizes what forward needs. */                                                                \
    X(int, conv_plan, (const conv_geom *g, int train_rows, int max_rows, void **plan))             \
    X(int, conv_forward, (void *plan, const float *x, const float *w, float *y, int rows))         \
    /* dw = d loss / d w (overwritten); dx too, when not NULL. */                                  \
    X(int, conv_backward,                                                                          \
      (void *plan, const float *x, const float *w, const float *dy, float *dw, float *dx,          \
       int rows))                                                                                  \
    /* Max or average pooling of NCHW rows, planned like convolutions. The                         \
     * gradient of a max goes to the first maximum of its window in row-major                      \
     * order; an average counts padding (PyTorch's default). */                                    \
    X(int, pool_plan, (const pool_geom *g, int max_rows, void **plan))                             \
    X(int, pool_forward, (void *plan, const float *x, float *y, int rows))                         \
    X(int, pool_backward,                                                                          \
      (void *plan, const float *x, const float *y, const float *dy, float *dx, int rows))          \
    /* Releases a plan of either kind (NULL: nothing). */                                          \
    X(void, plan_release, (void *plan))                                                            \
                                                                                                   \
    /* Batch normalization, in pieces so that statistics can be summed over                        \
     * ranks between them, and all in backend memory, so that a step on a                          \
     * GPU never waits for the host unless ranks must sum. Over (outer,                            \
     * channels, inner):                                                                           \
     * channel_sums: sums[c] = sum of a, sums[channels + c] = sum of a * b,                        \
     *   in double (b = a gives the sum of squares);                                               \
     * bn_stats: per channel, mean and invstd from the sums of x and x^2                           \
     *   over `count` values, with the running statistics updated                                  \
     *   (math_bn_stats); sums NULL takes them from the running statistics;                        \
     * sums_to_float: out[i] = sums[i] / divisor, in float (gradients of                           \
     *   gamma and beta, the means of dz and dz * xhat);                                           \
     * bn_forward: xhat = (x - mean[c]) * invstd[c], z = gamma[c] * xhat +                         \
     *   beta[c], y = act(z) (z may be y, as for bias_act_forward);                                \
     * bn_backward: dx = gamma[c] * invstd[c] * (dz - mean_dz[c] - xhat *                          \
     *   mean_dzxhat[c]). */                                                                       \
    X(int, channel_sums,                                                                           \
      (const float *a, const float *b, int outer, int channels, int inner, double *sums))          \
    X(int, bn_stats,                                                                               \
      (const double *sums, double count, int channels, double eps, double momentum, float *mean,   \
       float *invstd, float *run_mean, float *run_var))                                            \
    X(int, sums_to_float, (float *out, const double *sums, size_t n, double divisor))              \
    X(int, bn_forward,                                                                             \
      (const float *x, float *xhat, float *z, float *y, const float *mean, const float *invstd,    \
       const float *gamma, const float *beta, int outer, int channels, int inner, act_kind act))   \
    X(int, bn_backward,                                                                            \
      (const float *dz, const float *xhat, float *dx, const float *gamma, const float *invstd,     \
       const float *mean_dz, const float *mean_dzxhat, int outer, int channels, int inner))        \
                                                                                                   \
    /* Softmax cross-entropy over rows of `cols` logits. For each row writes                       \
     * stats[2r] = its loss and stats[2r+1] = 1 if the arg-max is the label,                       \
     * else 0. When dz is not NULL, also dz = scale * d loss / d logits. */                        \
    X(int, xent,                                                                                   \
      (const float *z, const int32_t *labels, int rows, int cols, float scale, float *dz,          \
       float *stats))                                                                              \
                                                                                                   \
    /* y = x * dropout mask; the mask of element i is keyed by (seed, layer,                       \
     * step, first + i), where `first` is the global index of x[0]. */                             \
    X(int, dropout_forward,                                                                        \
      (float *y, const float *x, size_t n, float rate, uint64_t seed, uint32_t layer,              \
       uint32_t step, uint64_t first))                                                             \
    /* dx = dy * the same mask. */                                                                 \
    X(int, dropout_backward,                                                                       \
      (float *dx, const float *dy, size_t n, float rate, uint64_t seed, uint32_t layer,            \
       uint32_t step, uint64_t first))                                                             \
                                                                                                   \
    /* ---- sequences (T positions of C features) ---- */                                          \
    /* y[r][p] = wte[tok[r][p]] + wpe[p] over rows of t tokens; a token id                         \
     * not below vocab is an error naming it on the CPU, NaN features on                           \
     * the GPU (a kernel cannot fail its launch; the loss check reports it). */                    \
    X(int, embed_forward,                                                                          \
      (const int32_t *tok, const float *wte, const float *wpe, float *y, int rows, int t, int c,   \
       int vocab))                                                                                 \
    /* dwte[tok[r][p]] += dy[r][p] (dwte zeroed first unless accumulate:                           \
     * a tied output layer has written its share), dwpe[p] = sum over rows;                        \
     * both in position order on both backends, without atomics. */                                \
    X(int, embed_backward,                                                                         \
      (const int32_t *tok, const float *dy, float *dwte, float *dwpe, int rows, int t, int c,      \
       int vocab, bool accumulate))                                                                \
    /* Over n rows of c: y = (x - mean) * rstd * g + b, as LayerNorm, with                         \
     * each row's mean and rstd = 1 / sqrt(var + eps) kept. */                                     \
    X(int, layernorm_forward,                                                                      \
      (const float *x, const float *g, const float *b, float *y, float *mean, float *rstd, int n,  \
       int c, float eps))                                                                          \
    /* dg and db (overwritten) and, when not NULL, dx. */                                          \
    X(int, layernorm_backward,                                                                     \
      (const float *dy, const float *x, const float *g, const float *mean, const float *rstd,      \
       float *dx, float *dg, float *db, int n, int c))                                             \
                                                                                                   \
    /* Fused causal attention, FlashAttention-2's way: no t x t buffer.                            \
     * For each row r, head h and query i in q0 .. q0 + nq - 1: ctx[r][i]'s                        \
     * head h = sum over keys j <= i of dropped softmax weights times v_j,                         \
     * and lse[(r * heads + h) * t + i] = log sum_j exp(scale q_i.k_j) (the                        \
     * weights' normalizer, kept for the backward; lse may be NULL). ctx is                        \
     * (rows, t, c); positions outside q0 .. q0 + nq - 1 are left alone.                           \
     * What qkv holds after position q0 + nq - 1 does not matter (a                                \
     * generation step's cache). float32 throughout: train.precision                               \
     * rounds gemm's inputs, not these. Deterministic: the same bits on                            \
     * every run and thread count. */                                                              \
    X(int, attention_forward, (const float *qkv, float *ctx, float *lse, const attn_args *a))      \
    /* From dctx (rows, t, c), d loss / d qkv written over dqkv (rows, t,                          \
     * 3c), every element of it, the weights recomputed tile by tile from                          \
     * qkv and lse (all t queries: q0 = 0 and nq = t, else an error; lse                           \
     * not NULL); ctx and lse are the forward's, a's dropout the same.                             \
     * dK and dV summed in a fixed order without atomics: bitwise                                  \
     * repeatable. */                                                                              \
    X(int, attention_backward,                                                                     \
      (const float *qkv, const float *ctx, const float *lse, const float *dctx, float *dqkv,       \
       const attn_args *a))                                                                        \
                                                                                                   \
    /* *out (host) = sum of x[i]^2, accumulated in double. */                                      \
    X(int, sumsq, (const float *x, size_t n, double *out))                                         \
    /* *out (host) = sum of x[i]^2 over the n ranges [ranges[2k],                                  \
     * ranges[2k + 1]) of x, each below 2^31: a sharded rank's pieces of the                       \
     * gradient, with one wait for the device, not one a range. */                                 \
    X(int, sumsq_ranges, (const float *x, const size_t *ranges, int n, double *out))               \
    /* One AdamW step over flat buffers of n parameters. */                                        \
    X(int, adam, (float *p, const float *g, float *m, float *v, size_t n, const adam_hyper *h))

/* An operation's parameters without their parentheses. */
#define BACKEND_OP_PARAMS(...) __VA_ARGS__
/* An operation as a member of struct backend. */
#define BACKEND_OP_MEMBER(ret, name, params) ret (*name)(backend *, BACKEND_OP_PARAMS params);

struct backend {
    const char *name;
    char description[256]; /* what it runs on, e.g. the GPU and its PCI bus id */
    char device_id[32];    /* the GPU's PCI bus id, to tell ranks sharing one; "" on the CPU */
    void *impl;            /* the backend's own state */

    /* Backend memory. Everything is allocated at start-up, never in the step
     * loop; bytes_allocated counts it, workspaces of plans included. */
    int (*alloc)(backend *be, void **out, size_t bytes); /* zero-filled */
    void (*release)(backend *be, void *p);
    size_t bytes_allocated;
    /* A counting backend (backend_cpu_counting_open) allocates nothing: alloc
     * and the plans add to bytes_allocated and hand out NULL, so a model
     * can be built to learn what it needs without taking it. Such a model
     * runs nothing. */
    bool counting;
    /* Synchronous copies: when upload returns, src may be reused; when
     * download returns, dst holds the data. */
    int (*upload)(backend *be, void *dst, const void *src, size_t bytes);
    int (*download)(backend *be, void *dst, const void *src, size_t bytes);
    int (*copy)(backend *be, void *dst, const void *src, size_t bytes);

    /* Whether backend memory is host memory (the CPU): then the trainer
     * reads each input batch where the loader made it, without a copy. */
    bool host_memory;

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

    /* Device-side timing, where the device runs asynchronously (NULL on the
     * CPU, whose host clock is the truth): mark_event records event i
     * (0 .. BACKEND_EVENTS-1) after the work queued so far; event_ms waits
     * for event `to` and gives the milliseconds since event `from`. */
    int (*mark_event)(backend *be, int i);
    int (*event_ms)(backend *be, int from, int to, double *ms);

    /* What matrix products' inputs are rounded to: backend_options'
     * precision, or what the device runs of it (precision_note). */
    precision_kind precision;

    /* Where the device runs matrix products at another precision than
     * the one asked for (a GPU without TF32 and bf16 tensor cores runs
     * them at fp32: kernels/cuda/gpucaps.h), a clause saying so for the
     * start-up line; else "". `precision` is then what runs. */
    char precision_note[256];

    /* The device's peak rate in FLOP/s for matrix products at that
     * precision (float32 lanes, or tensor cores for TF32 and bf16), for
     * model FLOP utilization; 0 where unknown. */
    double peak_flops;

    /* A GPU's compute capability, major * 10 + minor; 0 on the CPU. */
    int compute_capability;

    /* A device with memory of its own (not host_memory): *bytes = what is
     * free on it now, so a run that cannot fit is refused at start-up;
     * NULL on the CPU, whose memory util/membudget reads. */
    int (*mem_free)(backend *be, uint64_t *bytes);
    /* Device memory the matrix-product library takes for itself, beyond
     * bytes_allocated (cuBLAS's default workspace pool); 0 on the CPU. */
    uint64_t blas_workspace;
    /* The workspace conv_plan would take for this convolution, the same
     * algorithms chosen, found without allocating anything, so that the
     * start-up check can count it first; NULL where a plan's workspace is
     * what the counting backend counts already (the CPU). */
    int (*conv_workspace)(backend *be, const conv_geom *g, int train_rows, int max_rows,
                          uint64_t *bytes);

    /* The compute operations, one member each (BACKEND_OPS above). */
    BACKEND_OPS(BACKEND_OP_MEMBER)

    void (*destroy)(backend *be);
};

typedef enum { DEVICE_AUTO = 0, DEVICE_CPU, DEVICE_CUDA } device_kind;

typedef struct {
    device_kind device;
    int threads;              /* CPU threads for the math */
    precision_kind precision; /* matrix products' inputs (train.precision) */
    int local_rank;           /* picks the GPU: local_rank % visible GPUs */
    int local_size;           /* ranks on this node */
    bool allow_shared_gpu;    /* let more ranks than GPUs share them */
    bool deterministic;       /* GPU: only algorithms that repeat bitwise */
} backend_options;

/* The device run.device = `asked` takes, where a GPU is usable (usable 1,
 * backend_cuda_usable's answer) or not: auto takes the GPU only where it
 * is usable, and the CPU otherwise; cuda and cpu take what they name (cuda
 * then fails to open where there is none, saying why). */
device_kind backend_choose(device_kind asked, int usable);

/* Opens the backend the options ask for: auto takes a GPU when this build
 * has the CUDA backend and a GPU is usable, and the CPU otherwise. Fails
 * with a clear message when the device asked for cannot be had. *note
 * receives a line worth telling the user once (or NULL), e.g. why auto fell
 * back to the CPU; it lives as long as the program. */
backend *backend_open(const backend_options *o, const char **note);
void backend_close(backend *be);

/* The CPU backend (kernels/cpu/), its products at float32 precision
 * until be->precision is set otherwise. */
backend *backend_cpu_open(int threads);

/* The CPU backend counting instead of allocating (see `counting`). */
backend *backend_cpu_counting_open(void);

/* The CUDA backend (kernels/cuda/), in builds that have it.
 * backend_cuda_usable says whether the GPU a rank of local rank local_rank
 * would take can run this binary's code (a tiny kernel is launched on it):
 * 1 it can; 0 there is none (no driver, no device, a CPU-only build);
 * -1 there is one, but it cannot (a driver older than the CUDA runtime, an
 * architecture the build has no code for); *why says why not. */
int backend_cuda_usable(int local_rank, const char **why);

/* The versions of the libraries the build runs on, one per line (for
 * --version and the GPU check kit's results). */
void backend_versions(char *buf, size_t size);
void backend_cuda_versions(char *buf, size_t size);
backend *backend_cuda_open(const backend_options *o);

#ifdef __cplusplus
}
#endif

#endif
