/* The CPU backend: OpenBLAS for matrix products, plain loops over the shared
 * formulas of kernels/math.h for everything elementwise. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"
#include "trainer/err.h"

/* OpenBLAS's own thread-count control; declared here because not every
 * packaging of cblas.h declares it. */
void openblas_set_num_threads(int num_threads);

static int cpu_host_alloc(backend *be, void **out, size_t bytes)
{
    (void)be;
    /* 64-byte alignment for vector loads; aligned_alloc wants a multiple. */
    size_t rounded = (bytes + 63) / 64 * 64;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (!p)
        return err_set("out of host memory allocating %zu bytes", bytes);
    memset(p, 0, rounded);
    *out = p;
    return 0;
}

static int cpu_alloc(backend *be, void **out, size_t bytes)
{
    if (cpu_host_alloc(be, out, bytes) < 0)
        return -1;
    be->bytes_allocated += bytes;
    return 0;
}

static int count_alloc(backend *be, void **out, size_t bytes)
{
    be->bytes_allocated += bytes;
    *out = NULL;
    return 0;
}

static void cpu_release(backend *be, void *p)
{
    (void)be;
    free(p);
}

static int cpu_copy(backend *be, void *dst, const void *src, size_t bytes)
{
    (void)be;
    if (bytes)
        memmove(dst, src, bytes);
    return 0;
}

/* The CPU's memory is the host's: input staging is a plain copy. */
static int cpu_upload_async(backend *be, int slot, void *dst, const void *src, size_t bytes)
{
    (void)slot;
    return cpu_copy(be, dst, src, bytes);
}

static int cpu_input_fence(backend *be, int slot)
{
    (void)be, (void)slot;
    return 0;
}

static int cpu_gemm(backend *be, bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
                    int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    (void)be;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
    return 0;
}

static int cpu_bias_act_forward(backend *be, float *z, float *y, const float *bias, int outer,
                                int channels, int inner, act_kind act)
{
    (void)be;
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < channels; c++) {
            size_t base = ((size_t)o * channels + c) * inner;
            float *zr = z + base, *yr = y + base;
            float bc = bias ? bias[c] : 0.0f;
            if (act == ACT_RELU) { /* the common case, kept branch-free */
                for (int i = 0; i < inner; i++) {
                    float v = zr[i] + bc;
                    zr[i] = v;
                    yr[i] = v > 0.0f ? v : 0.0f;
                }
                continue;
            }
            for (int i = 0; i < inner; i++) {
                float v = zr[i] + bc;
                zr[i] = v;
                yr[i] = math_act(act, v);
            }
        }
    return 0;
}

/* GPT's activation over a row, in its own loop so that it vectorizes (its
 * tanh is math.h's, with no libm call). dz may be dy. */
CPU_SIMD static void gelu_tanh_row(float *restrict z, float *restrict y, const float *bias, int n)
{
    for (int i = 0; i < n; i++) {
        float v = z[i] + (bias ? bias[i] : 0.0f);
        z[i] = v;
        y[i] = math_act(ACT_GELU_TANH, v);
    }
}

CPU_SIMD static void gelu_tanh_backward(float *dz, const float *dy, const float *restrict z,
                                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        dz[i] = dy[i] * math_act_grad(ACT_GELU_TANH, z[i], 0.0f);
}

/* Dense layers (inner = 1) get loops over whole rows: the hot path of an MLP. */
static int cpu_bias_act_rows(backend *be, float *z, float *y, const float *bias, int rows, int cols,
                             act_kind act)
{
    (void)be;
    for (int r = 0; r < rows; r++) {
        float *zr = z + (size_t)r * cols, *yr = y + (size_t)r * cols;
        if (act == ACT_RELU) {
            for (int c = 0; c < cols; c++) {
                float v = zr[c] + (bias ? bias[c] : 0.0f);
                zr[c] = v;
                yr[c] = v > 0.0f ? v : 0.0f;
            }
            continue;
        }
        if (act == ACT_GELU_TANH && zr != yr) {
            gelu_tanh_row(zr, yr, bias, cols);
            continue;
        }
        for (int c = 0; c < cols; c++) {
            float v = zr[c] + (bias ? bias[c] : 0.0f);
            zr[c] = v;
            yr[c] = math_act(act, v);
        }
    }
    return 0;
}

static int cpu_bias_act(backend *be, float *z, float *y, const float *bias, int outer, int channels,
                        int inner, act_kind act)
{
    if (!bias && act == ACT_NONE && z == y) /* nothing to do: a convolution before batch norm */
        return 0;
    if (inner == 1)
        return cpu_bias_act_rows(be, z, y, bias, outer, channels, act);
    return cpu_bias_act_forward(be, z, y, bias, outer, channels, inner, act);
}

/* ReLU's backward, written so that it becomes a vector compare and blend
 * (dz is dy in every caller; a load only on the kept side would be a branch
 * the CPU mispredicts half the time). */
CPU_SIMD static void relu_backward(float *restrict dz, const float *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        float d = dz[i];
        dz[i] = y[i] > 0.0f ? d : 0.0f;
    }
}

static int cpu_act_backward(backend *be, float *dz, const float *dy, const float *z, const float *y,
                            size_t n, act_kind act)
{
    (void)be;
    if (act == ACT_RELU) {
        if (dz != dy)
            memmove(dz, dy, sizeof(float) * n);
        relu_backward(dz, y, n);
        return 0;
    }
    if (act == ACT_GELU_TANH) {
        gelu_tanh_backward(dz, dy, z, n);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        dz[i] = dy[i] * math_act_grad(act, z[i], y[i]);
    return 0;
}

static int cpu_bias_grad(backend *be, float *db, const float *dz, int outer, int channels,
                         int inner)
{
    (void)be;
    memset(db, 0, sizeof(float) * (size_t)channels);
    for (int o = 0; o < outer; o++) {
        const float *dr = dz + (size_t)o * channels * inner;
        if (inner == 1) {
            for (int c = 0; c < channels; c++)
                db[c] += dr[c];
            continue;
        }
        for (int c = 0; c < channels; c++) {
            float s = 0.0f;
            for (int i = 0; i < inner; i++)
                s += dr[(size_t)c * inner + i];
            db[c] += s;
        }
    }
    return 0;
}

static int cpu_add(backend *be, float *y, const float *a, const float *b, size_t n)
{
    (void)be;
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
    return 0;
}

static int cpu_xent(backend *be, const float *z, const int32_t *labels, int rows, int cols,
                    float scale, float *dz, float *stats)
{
    (void)be;
    for (int r = 0; r < rows; r++) {
        int pred;
        float *dr = dz ? dz + (size_t)r * cols : NULL;
        stats[2 * r] = math_xent_row(z + (size_t)r * cols, cols, labels[r], scale, dr, &pred);
        stats[2 * r + 1] = pred == labels[r] ? 1.0f : 0.0f;
    }
    return 0;
}

static int cpu_sumsq(backend *be, const float *x, size_t n, double *out)
{
    (void)be;
    double sum;
    cpu_sums(x, x, n, &sum, out);
    return 0;
}

CPU_SIMD static void adam(float *restrict p, const float *restrict g, float *restrict m,
                          float *restrict v, size_t n, adam_hyper hh)
{
    /* hh by value: stores through p, m and v could otherwise alias it
     * (floats all), and the compiler would reload it every element and give
     * up on vectorizing the loop. */
    for (size_t i = 0; i < n; i++)
        math_adam(&p[i], g[i], &m[i], &v[i], &hh);
}

static int cpu_adam(backend *be, float *p, const float *g, float *m, float *v, size_t n,
                    const adam_hyper *h)
{
    (void)be;
    adam(p, g, m, v, n, *h);
    return 0;
}

static void cpu_destroy(backend *be)
{
    free(be);
}

backend *backend_cpu_open(int threads)
{
    backend *be = calloc(1, sizeof *be);
    if (!be) {
        err_set("out of host memory opening the CPU backend");
        return NULL;
    }
    if (threads > 0)
        openblas_set_num_threads(threads);
    be->name = "cpu";
    be->host_memory = true;
    snprintf(be->description, sizeof be->description, "OpenBLAS, %d thread%s", threads,
             threads == 1 ? "" : "s");
    be->alloc = cpu_alloc;
    be->release = cpu_release;
    be->upload = cpu_copy;
    be->download = cpu_copy;
    be->copy = cpu_copy;
    be->host_alloc = cpu_host_alloc;
    be->host_release = cpu_release;
    be->upload_async = cpu_upload_async;
    be->input_wait = cpu_input_fence;
    be->input_done = cpu_input_fence;
    be->input_host_wait = cpu_input_fence;
    be->gemm = cpu_gemm;
    be->bias_act_forward = cpu_bias_act;
    be->add = cpu_add;
    be->conv_plan = cpu_conv_plan;
    be->conv_forward = cpu_conv_forward;
    be->conv_backward = cpu_conv_backward;
    be->pool_plan = cpu_pool_plan;
    be->pool_forward = cpu_pool_forward;
    be->pool_backward = cpu_pool_backward;
    be->plan_release = cpu_plan_release;
    be->channel_sums = cpu_channel_sums;
    be->bn_stats = cpu_bn_stats;
    be->sums_to_float = cpu_sums_to_float;
    be->bn_forward = cpu_bn_forward;
    be->bn_backward = cpu_bn_backward;
    be->act_backward = cpu_act_backward;
    be->bias_grad = cpu_bias_grad;
    be->xent = cpu_xent;
    be->dropout_forward = cpu_dropout;
    be->dropout_backward = cpu_dropout; /* the mask is its own derivative */
    be->sumsq = cpu_sumsq;
    be->embed_forward = cpu_embed_forward;
    be->embed_backward = cpu_embed_backward;
    be->layernorm_forward = cpu_layernorm_forward;
    be->layernorm_backward = cpu_layernorm_backward;
    be->causal_softmax = cpu_causal_softmax;
    be->causal_softmax_row = cpu_causal_softmax_row;
    be->causal_softmax_backward = cpu_causal_softmax_backward;
    be->adam = cpu_adam;
    be->destroy = cpu_destroy;
    return be;
}

backend *backend_cpu_counting_open(void)
{
    backend *be = backend_cpu_open(0);
    if (be) {
        be->counting = true;
        be->alloc = count_alloc;
    }
    return be;
}
