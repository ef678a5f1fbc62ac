/* dnn: convolutions and poolings on the GPU through cuDNN.
 *
 * A plan holds the descriptors and, for a convolution, the algorithms
 * taken from cuDNN's heuristics for the training batch: the first of each
 * kind that is supported, deterministic unless run.deterministic = false,
 * and within DNN_MAX_WORKSPACE (dnn_pick.h). The convolutions share one
 * workspace (cuda_impl), sized at start-up for the largest need, forward
 * with evaluation's batch included; gpu_conv_workspace tells a plan's need
 * without taking it, for the start-up memory check. A call with other rows only
 * re-describes the tensors. cuDNN 9 still ships this API (the "legacy"
 * convolution API, deprecated in favour of its graph API); it covers what
 * these layers need. */
#include <stdlib.h>

#include "kernels/cuda/cuda_impl.h"
#include "kernels/cuda/dnn_pick.h"
#include "util/err.h"

enum { PLAN_CONV = 1, PLAN_POOL = 2 };

typedef struct {
    int kind;
    conv_geom g;
    int rows; /* what x and y describe now */
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
} conv_plan;

typedef struct {
    int kind;
    pool_geom g;
    int rows;
    cudnnTensorDescriptor_t x, y;
    cudnnPoolingDescriptor_t pool;
} pool_plan;

static int describe(cudnnTensorDescriptor_t d, int n, int c, int h, int w)
{
    CUDNN_TRY(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
    return 0;
}

static int conv_rows(conv_plan *p, int rows)
{
    if (p->rows == rows)
        return 0;
    const conv_geom *g = &p->g;
    if (describe(p->x, rows, g->in_c, g->in_h, g->in_w) < 0 ||
        describe(p->y, rows, g->out_c, g->out_h, g->out_w) < 0)
        return -1;
    p->rows = rows;
    return 0;
}

static int conv_describe(cuda_impl *c, conv_plan *p)
{
    const conv_geom *g = &p->g;
    CUDNN_TRY(cudnnCreateTensorDescriptor(&p->x));
    CUDNN_TRY(cudnnCreateTensorDescriptor(&p->y));
    CUDNN_TRY(cudnnCreateFilterDescriptor(&p->w));
    CUDNN_TRY(cudnnCreateConvolutionDescriptor(&p->conv));
    CUDNN_TRY(cudnnSetFilter4dDescriptor(p->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, g->out_c,
                                         g->in_c, g->k, g->k));
    CUDNN_TRY(cudnnSetConvolution2dDescriptor(p->conv, g->pad, g->pad, g->stride, g->stride, 1, 1,
                                              CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    /* Tensor operations on float32 tensors are TF32 (precision_of_conv);
     * at fp32, FMA only: the float32 results the CPU backend gives. */
    bool tensor = precision_of_conv(c->precision) == PRECISION_TF32;
    CUDNN_TRY(cudnnSetConvolutionMathType(p->conv, tensor ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
    return 0;
}

/* The most workspace one convolution may take: cuDNN offers algorithms
 * that want gigabytes for a small speed-up, and the memory is the batch's. */
#define DNN_MAX_WORKSPACE ((size_t)512 << 20)

/* How many of the heuristics' ranked algorithms a plan looks at: more
 * than cuDNN has of any kind. */
enum { DNN_CANDIDATES = 16 };

static dnn_candidate candidate_of(int algo, cudnnStatus_t status, cudnnDeterminism_t determinism,
                                  size_t memory)
{
    return (dnn_candidate){.algo = algo,
                           .supported = status == CUDNN_STATUS_SUCCESS,
                           .deterministic = determinism == CUDNN_DETERMINISTIC,
                           .workspace = memory};
}

/* Each kind has a perf struct of its own, with the same fields. */
#define DNN_TO_CANDIDATES(perf, got, out)                                                          \
    for (int i_ = 0; i_ < (got); i_++)                                                             \
    (out)[i_] = candidate_of((int)(perf)[i_].algo, (perf)[i_].status, (perf)[i_].determinism,      \
                             (perf)[i_].memory)

/* The chosen algorithm of a kind, or an error naming the kind and what to
 * do. */
static int choose(const cuda_impl *c, const dnn_candidate *cand, int got, const char *kind,
                  int *algo, size_t *workspace)
{
    int i = dnn_pick(cand, got, c->deterministic, DNN_MAX_WORKSPACE);
    if (i < 0)
        return err_set("cuDNN offers no %s%s algorithm for this convolution within %zu MiB of "
                       "workspace (of %d ranked)%s",
                       c->deterministic ? "deterministic " : "", kind, DNN_MAX_WORKSPACE >> 20, got,
                       c->deterministic ? "; run.deterministic = false allows the others" : "");
    *algo = cand[i].algo;
    *workspace = cand[i].workspace;
    return 0;
}

static int choose_forward(cuda_impl *c, conv_plan *p, size_t *need)
{
    cudnnConvolutionFwdAlgoPerf_t perf[DNN_CANDIDATES];
    dnn_candidate cand[DNN_CANDIDATES];
    int got = 0, algo = 0;
    CUDNN_TRY(cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, p->x, p->w, p->conv, p->y,
                                                     DNN_CANDIDATES, &got, perf));
    DNN_TO_CANDIDATES(perf, got, cand);
    if (choose(c, cand, got, "forward", &algo, need) < 0)
        return -1;
    p->fwd = (cudnnConvolutionFwdAlgo_t)algo;
    return 0;
}

static int choose_backward_data(cuda_impl *c, conv_plan *p, size_t *need)
{
    cudnnConvolutionBwdDataAlgoPerf_t perf[DNN_CANDIDATES];
    dnn_candidate cand[DNN_CANDIDATES];
    int got = 0, algo = 0;
    CUDNN_TRY(cudnnGetConvolutionBackwardDataAlgorithm_v7(c->dnn, p->w, p->y, p->conv, p->x,
                                                          DNN_CANDIDATES, &got, perf));
    DNN_TO_CANDIDATES(perf, got, cand);
    if (choose(c, cand, got, "backward-data", &algo, need) < 0)
        return -1;
    p->bwd_data = (cudnnConvolutionBwdDataAlgo_t)algo;
    return 0;
}

static int choose_backward_filter(cuda_impl *c, conv_plan *p, size_t *need)
{
    cudnnConvolutionBwdFilterAlgoPerf_t perf[DNN_CANDIDATES];
    dnn_candidate cand[DNN_CANDIDATES];
    int got = 0, algo = 0;
    CUDNN_TRY(cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->dnn, p->x, p->y, p->conv, p->w,
                                                            DNN_CANDIDATES, &got, perf));
    DNN_TO_CANDIDATES(perf, got, cand);
    if (choose(c, cand, got, "backward-filter", &algo, need) < 0)
        return -1;
    p->bwd_filter = (cudnnConvolutionBwdFilterAlgo_t)algo;
    return 0;
}

/* An algorithm of each kind (dnn_pick) for the rows p describes now; *need
 * gets the largest workspace of the three. */
static int conv_choose(cuda_impl *c, conv_plan *p, size_t *need)
{
    size_t fwd, data, filter;
    if (choose_forward(c, p, &fwd) < 0 || choose_backward_data(c, p, &data) < 0 ||
        choose_backward_filter(c, p, &filter) < 0)
        return -1;
    *need = fwd > data ? fwd : data;
    *need = filter > *need ? filter : *need;
    return 0;
}

/* The shared workspace grown to `need`. Plans are made at start-up, before
 * anything runs, so growing it (free, then allocate) loses nothing. */
static int grow_workspace(backend *be, size_t need)
{
    cuda_impl *c = impl_of(be);
    if (need <= c->workspace_bytes)
        return 0;
    CUDA_TRY(cudaFree(c->workspace));
    c->workspace = NULL;
    be->bytes_allocated -= c->workspace_bytes;
    c->workspace_bytes = 0;
    CUDA_TRY(cudaMalloc(&c->workspace, need));
    c->workspace_bytes = need;
    be->bytes_allocated += need;
    return 0;
}

/* Forward's workspace with max_rows (evaluation's batch), for the algorithm
 * chosen with the training batch. */
static int forward_need(cuda_impl *c, conv_plan *p, int max_rows, size_t *need)
{
    size_t bytes;
    if (conv_rows(p, max_rows) < 0)
        return -1;
    CUDNN_TRY(
        cudnnGetConvolutionForwardWorkspaceSize(c->dnn, p->x, p->w, p->conv, p->y, p->fwd, &bytes));
    *need = bytes > *need ? bytes : *need;
    return 0;
}

/* A plan's descriptors and algorithms, and in *need the workspace they
 * take: chosen for training's batch, where the time goes; evaluation's,
 * larger, only runs forward with them. Allocates no device memory (cuDNN's
 * heuristics only rank). *out is the plan, to release even on failure. */
static int conv_make(cuda_impl *c, const conv_geom *g, int train_rows, int max_rows,
                     conv_plan **out, size_t *need)
{
    conv_plan *p = calloc(1, sizeof *p);
    *out = p;
    *need = 0;
    if (!p)
        return err_set("out of host memory for a convolution plan");
    p->kind = PLAN_CONV;
    p->g = *g;
    if (conv_describe(c, p) < 0 || conv_rows(p, train_rows) < 0 || conv_choose(c, p, need) < 0 ||
        forward_need(c, p, max_rows, need) < 0)
        return err_prefix("planning a convolution");
    return 0;
}

int gpu_conv_plan(backend *be, const conv_geom *g, int train_rows, int max_rows, void **out)
{
    conv_plan *p;
    size_t need;
    int rc = conv_make(impl_of(be), g, train_rows, max_rows, &p, &need);
    *out = p;
    if (rc == 0 && grow_workspace(be, need) < 0)
        return err_prefix("planning a convolution");
    return rc;
}

/* The same choice, its workspace told instead of taken: the start-up
 * check counts it before anything is allocated. */
int gpu_conv_workspace(backend *be, const conv_geom *g, int train_rows, int max_rows,
                       uint64_t *bytes)
{
    conv_plan *p;
    size_t need;
    int rc = conv_make(impl_of(be), g, train_rows, max_rows, &p, &need);
    gpu_plan_release(be, p);
    *bytes = need;
    return rc;
}

int gpu_conv_forward(backend *be, void *plan, const float *x, const float *w, float *y, int rows)
{
    cuda_impl *c = impl_of(be);
    conv_plan *p = plan;
    const float one = 1.0f, zero = 0.0f;
    if (conv_rows(p, rows) < 0)
        return -1;
    CUDNN_TRY(cudnnConvolutionForward(c->dnn, &one, p->x, x, p->w, w, p->conv, p->fwd, c->workspace,
                                      c->workspace_bytes, &zero, p->y, y));
    return 0;
}

int gpu_conv_backward(backend *be, void *plan, const float *x, const float *w, const float *dy,
                      float *dw, float *dx, int rows)
{
    cuda_impl *c = impl_of(be);
    conv_plan *p = plan;
    const float one = 1.0f, zero = 0.0f;
    if (conv_rows(p, rows) < 0)
        return -1;
    CUDNN_TRY(cudnnConvolutionBackwardFilter(c->dnn, &one, p->x, x, p->y, dy, p->conv,
                                             p->bwd_filter, c->workspace, c->workspace_bytes, &zero,
                                             p->w, dw));
    if (dx)
        CUDNN_TRY(cudnnConvolutionBackwardData(c->dnn, &one, p->w, w, p->y, dy, p->conv,
                                               p->bwd_data, c->workspace, c->workspace_bytes, &zero,
                                               p->x, dx));
    return 0;
}

static int pool_rows(pool_plan *p, int rows)
{
    if (p->rows == rows)
        return 0;
    const pool_geom *g = &p->g;
    if (describe(p->x, rows, g->c, g->in_h, g->in_w) < 0 ||
        describe(p->y, rows, g->c, g->out_h, g->out_w) < 0)
        return -1;
    p->rows = rows;
    return 0;
}

static int pool_describe(pool_plan *p, int max_rows)
{
    const pool_geom *g = &p->g;
    CUDNN_TRY(cudnnCreateTensorDescriptor(&p->x));
    CUDNN_TRY(cudnnCreateTensorDescriptor(&p->y));
    CUDNN_TRY(cudnnCreatePoolingDescriptor(&p->pool));
    /* Deterministic max: the same element takes a window's gradient on
     * every run; the average counts padding, as the CPU backend does. */
    cudnnPoolingMode_t mode =
        g->max ? CUDNN_POOLING_MAX_DETERMINISTIC : CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
    CUDNN_TRY(cudnnSetPooling2dDescriptor(p->pool, mode, CUDNN_NOT_PROPAGATE_NAN, g->k_h, g->k_w,
                                          g->pad, g->pad, g->stride, g->stride));
    return pool_rows(p, max_rows);
}

int gpu_pool_plan(backend *be, const pool_geom *g, int max_rows, void **out)
{
    (void)be;
    pool_plan *p = calloc(1, sizeof *p);
    if (!p)
        return err_set("out of host memory for a pooling plan");
    p->kind = PLAN_POOL;
    p->g = *g;
    *out = p;
    if (pool_describe(p, max_rows) < 0)
        return err_prefix("planning a pooling");
    return 0;
}

int gpu_pool_forward(backend *be, void *plan, const float *x, float *y, int rows)
{
    pool_plan *p = plan;
    const float one = 1.0f, zero = 0.0f;
    if (pool_rows(p, rows) < 0)
        return -1;
    CUDNN_TRY(cudnnPoolingForward(impl_of(be)->dnn, p->pool, &one, p->x, x, &zero, p->y, y));
    return 0;
}

int gpu_pool_backward(backend *be, void *plan, const float *x, const float *y, const float *dy,
                      float *dx, int rows)
{
    pool_plan *p = plan;
    const float one = 1.0f, zero = 0.0f;
    if (pool_rows(p, rows) < 0)
        return -1;
    CUDNN_TRY(cudnnPoolingBackward(impl_of(be)->dnn, p->pool, &one, p->y, y, p->y, dy, p->x, x,
                                   &zero, p->x, dx));
    return 0;
}

void gpu_plan_release(backend *be, void *plan)
{
    (void)be;
    if (!plan)
        return;
    if (*(int *)plan == PLAN_CONV) {
        conv_plan *p = plan;
        if (p->w)
            cudnnDestroyFilterDescriptor(p->w);
        if (p->conv)
            cudnnDestroyConvolutionDescriptor(p->conv);
    }
    /* both kinds begin with kind, g, rows, x, y */
    if (*(int *)plan == PLAN_POOL) {
        pool_plan *p = plan;
        if (p->pool)
            cudnnDestroyPoolingDescriptor(p->pool);
    }
    cudnnTensorDescriptor_t x =
        *(int *)plan == PLAN_CONV ? ((conv_plan *)plan)->x : ((pool_plan *)plan)->x;
    cudnnTensorDescriptor_t y =
        *(int *)plan == PLAN_CONV ? ((conv_plan *)plan)->y : ((pool_plan *)plan)->y;
    if (x)
        cudnnDestroyTensorDescriptor(x);
    if (y)
        cudnnDestroyTensorDescriptor(y);
    free(plan);
}
