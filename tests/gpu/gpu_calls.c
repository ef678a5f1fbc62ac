/* gpu_calls: times, on the GPU, the backend calls that bench/gpu_model.py
 * models, at configs/gpt2_124m.ini's shapes (micro-batch 8 x 1024, 768
 * features, 12 heads, MLP 3,072, vocab 50,257), each issued as the layer
 * files issue it, so check.sh can set the measured times beside the
 * model's on first contact with a GPU:
 *
 *     gpu_calls [fp32|tf32|bf16] > calls.csv
 *     python3 bench/gpu_model.py --check calls.csv --precision P --gpu NAME
 *
 * Prints "key,ms" lines: one call's milliseconds, the mean of enough
 * repetitions to fill about 50 ms, timed with the backend's events
 * (mark_event, event_ms) after a warm-up call; calls that wait for the host
 * (loss.download, sumsq, sync) and the host's own cost of a launch
 * (host_launch) by the host's clock; `launch` is the GPU's own time a
 * launch, the kernels queued behind milliseconds of work. Values are what
 * the buffers start with (zeros, or uniform in [-1, 1) where a kernel's
 * path could depend on them); tokens take 2,500 distinct ids, as the model
 * assumes. Exit 77
 * (SKIPPED) where no GPU is usable; 1 where one is there but this build
 * cannot use it, or a call fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/backend.h"
#include "util/err.h"

/* GPT-2 small's shapes, as configs/gpt2_124m.ini gives them (the model
 * reads them from the config; a change there is a change here). */
enum {
    B = 8,
    T = 1024,
    C = 768,
    H = 12,
    HD = C / H,
    FF = 3072,
    V = 50257,
    N = B * T,
    C3 = 3 * C,
    DISTINCT = 2500
};
static const size_t N_PARAMS = 124439808; /* trained floats: no padding at these widths */

static backend *be;

/* Every buffer the calls use, in backend memory. */
static struct {
    int32_t *tok, *labels;
    float *x, *y, *dx, *dy, *qkv, *dqkv, *ctx, *dctx, *h, *z, *dh;
    float *logits, *dlogits, *stats, *mean, *rstd, *lse;
    float *wte, *dwte, *wpe, *dwpe, *w_qkv, *w_proj, *w_fc, *w_fproj, *dw, *bias, *db, *g, *b;
    float *p, *grad, *m, *v, *gsum, *tiny;
    float host[2 * N];
} k;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *alloc_floats(size_t n)
{
    void *p = NULL;
    if (be->alloc(be, &p, sizeof(float) * n) < 0) {
        fprintf(stderr, "gpu_calls: %s\n", err_msg());
        exit(1);
    }
    return p;
}

/* Uniform values in [-1, 1) over the first n floats of p. */
static void fill(float *p, size_t n)
{
    enum { CHUNK = 1 << 20 };
    static float buf[CHUNK];
    uint32_t s = 12345u;
    for (size_t i = 0; i < CHUNK; i++) {
        s = s * 1664525u + 1013904223u;
        buf[i] = (float)(s >> 8) / (float)(1u << 23) - 1.0f;
    }
    for (size_t at = 0; at < n; at += CHUNK) {
        size_t len = n - at < CHUNK ? n - at : CHUNK;
        if (be->upload(be, p + at, buf, sizeof(float) * len) < 0) {
            fprintf(stderr, "gpu_calls: %s\n", err_msg());
            exit(1);
        }
    }
}

static void setup(void)
{
    k.tok = alloc_floats(N), k.labels = alloc_floats(N);
    int32_t *ids = malloc(sizeof(int32_t) * N);
    uint32_t s = 7u;
    for (int i = 0; i < N; i++) {
        s = s * 1664525u + 1013904223u;
        ids[i] = (int32_t)((s >> 8) % DISTINCT * (V / DISTINCT));
    }
    if (!ids || be->upload(be, k.tok, ids, sizeof(int32_t) * N) < 0 ||
        be->upload(be, k.labels, ids, sizeof(int32_t) * N) < 0) {
        fprintf(stderr, "gpu_calls: cannot upload the tokens\n");
        exit(1);
    }
    free(ids);
    size_t nc = (size_t)N * C;
    float **seq[] = {&k.x, &k.y, &k.dx, &k.dy, &k.ctx, &k.dctx};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++)
        fill(*seq[i] = alloc_floats(nc), nc);
    fill(k.qkv = alloc_floats(3 * nc), 3 * nc);
    k.dqkv = alloc_floats(3 * nc);
    fill(k.h = alloc_floats((size_t)N * FF), (size_t)N * FF);
    fill(k.z = alloc_floats((size_t)N * FF), (size_t)N * FF);
    fill(k.dh = alloc_floats((size_t)N * FF), (size_t)N * FF);
    fill(k.logits = alloc_floats((size_t)N * V), (size_t)N * V);
    k.dlogits = alloc_floats((size_t)N * V);
    k.stats = alloc_floats(2 * N);
    k.lse = alloc_floats((size_t)N * H); /* attn.fwd writes it before attn.bwd reads it */
    fill(k.mean = alloc_floats(N), N);
    fill(k.rstd = alloc_floats(N), N);
    fill(k.wte = alloc_floats((size_t)V * C), (size_t)V * C);
    k.dwte = alloc_floats((size_t)V * C);
    fill(k.wpe = alloc_floats((size_t)T * C), (size_t)T * C);
    k.dwpe = alloc_floats((size_t)T * C);
    fill(k.w_qkv = alloc_floats((size_t)C3 * C), (size_t)C3 * C);
    fill(k.w_proj = alloc_floats((size_t)C * C), (size_t)C * C);
    fill(k.w_fc = alloc_floats((size_t)FF * C), (size_t)FF * C);
    fill(k.w_fproj = alloc_floats((size_t)C * FF), (size_t)C * FF);
    k.dw = alloc_floats((size_t)FF * C);
    fill(k.bias = alloc_floats(FF), FF);
    k.db = alloc_floats(FF);
    fill(k.g = alloc_floats(C), C);
    fill(k.b = alloc_floats(C), C);
    fill(k.p = alloc_floats(N_PARAMS), N_PARAMS);
    fill(k.grad = alloc_floats(N_PARAMS), N_PARAMS);
    k.m = alloc_floats(N_PARAMS), k.v = alloc_floats(N_PARAMS), k.gsum = alloc_floats(N_PARAMS);
    k.tiny = alloc_floats(64);
}

/* The calls, in a step's order, and their keys: gpu_model.py's `op`s. */
typedef enum {
    CALL_embed_fwd,
    CALL_ln_fwd,
    CALL_gemm_qkv_fwd,
    CALL_bias_qkv,
    CALL_attn_fwd,
    CALL_gemm_attn_proj_fwd,
    CALL_bias_attn_proj,
    CALL_residual_add,
    CALL_gemm_fc_fwd,
    CALL_bias_act_fc,
    CALL_gemm_proj_fwd,
    CALL_gemm_lm_head_fwd,
    CALL_bias_lm_head,
    CALL_xent,
    CALL_loss_download,
    CALL_gemm_lm_head_dw,
    CALL_gemm_lm_head_dx,
    CALL_ln_bwd,
    CALL_residual_copy,
    CALL_bias_grad_c768,
    CALL_gemm_proj_dw,
    CALL_gemm_proj_dx,
    CALL_act_grad_fc,
    CALL_bias_grad_c3072,
    CALL_gemm_fc_dw,
    CALL_gemm_fc_dx,
    CALL_gemm_attn_proj_dw,
    CALL_gemm_attn_proj_dx,
    CALL_attn_bwd,
    CALL_bias_grad_c2304,
    CALL_gemm_qkv_dw,
    CALL_gemm_qkv_dx,
    CALL_embed_bwd,
    CALL_grads_sum,
    CALL_grads_add,
    CALL_sumsq,
    CALL_adam_all,
    CALL_launch,
    CALL_sync,
    N_CALLS
} call_id;

static const char *const keys[N_CALLS] = {
    [CALL_embed_fwd] = "embed.fwd",
    [CALL_ln_fwd] = "ln.fwd",
    [CALL_gemm_qkv_fwd] = "gemm.qkv.fwd",
    [CALL_bias_qkv] = "bias.qkv",
    [CALL_attn_fwd] = "attn.fwd",
    [CALL_gemm_attn_proj_fwd] = "gemm.attn_proj.fwd",
    [CALL_bias_attn_proj] = "bias.attn_proj",
    [CALL_residual_add] = "residual.add",
    [CALL_gemm_fc_fwd] = "gemm.fc.fwd",
    [CALL_bias_act_fc] = "bias_act.fc",
    [CALL_gemm_proj_fwd] = "gemm.proj.fwd",
    [CALL_gemm_lm_head_fwd] = "gemm.lm_head.fwd",
    [CALL_bias_lm_head] = "bias.lm_head",
    [CALL_xent] = "xent",
    [CALL_loss_download] = "loss.download",
    [CALL_gemm_lm_head_dw] = "gemm.lm_head.dw",
    [CALL_gemm_lm_head_dx] = "gemm.lm_head.dx",
    [CALL_ln_bwd] = "ln.bwd",
    [CALL_residual_copy] = "residual.copy",
    [CALL_bias_grad_c768] = "bias_grad.c768",
    [CALL_gemm_proj_dw] = "gemm.proj.dw",
    [CALL_gemm_proj_dx] = "gemm.proj.dx",
    [CALL_act_grad_fc] = "act_grad.fc",
    [CALL_bias_grad_c3072] = "bias_grad.c3072",
    [CALL_gemm_fc_dw] = "gemm.fc.dw",
    [CALL_gemm_fc_dx] = "gemm.fc.dx",
    [CALL_gemm_attn_proj_dw] = "gemm.attn_proj.dw",
    [CALL_gemm_attn_proj_dx] = "gemm.attn_proj.dx",
    [CALL_attn_bwd] = "attn.bwd",
    [CALL_bias_grad_c2304] = "bias_grad.c2304",
    [CALL_gemm_qkv_dw] = "gemm.qkv.dw",
    [CALL_gemm_qkv_dx] = "gemm.qkv.dx",
    [CALL_embed_bwd] = "embed.bwd",
    [CALL_grads_sum] = "grads.sum",
    [CALL_grads_add] = "grads.add",
    [CALL_sumsq] = "sumsq",
    [CALL_adam_all] = "adam.all",
    [CALL_launch] = "launch",
    [CALL_sync] = "sync",
};

/* Timed by the host's clock: they wait for the device themselves. */
static bool host_timed(call_id id)
{
    return id == CALL_loss_download || id == CALL_sumsq || id == CALL_sync;
}

/* A dense layer's three products, as layer_dense.c (and layer_attention.c
 * for its projections) issue them: forward, dW, dx. */
static int dense(int which, int n, int out, int in, const float *x, const float *w, float *z,
                 const float *g, float *dw, float *dx)
{
    if (which == 0)
        return be->gemm(be, false, true, n, out, in, 1.0f, x, in, w, in, 0.0f, z, out);
    if (which == 1)
        return be->gemm(be, true, false, out, in, n, 1.0f, g, out, x, in, 0.0f, dw, in);
    return be->gemm(be, false, false, n, in, out, 1.0f, g, out, w, in, 0.0f, dx, in);
}

static int issue(call_id id)
{
    const float scale = 0.125f; /* 1 / sqrt(64) */
    /* the fused attention over the micro-batch, as issue 26's layer calls
     * it: every query, the config's attention dropout (none) */
    const attn_args attn = {.rows = B,
                            .t = T,
                            .c = C,
                            .heads = H,
                            .q0 = 0,
                            .nq = T,
                            .scale = scale,
                            .seed = 1,
                            .layer = 1,
                            .step = 1};
    double out;
    adam_hyper hy = {.lr = 6e-4f,
                     .beta1 = 0.9f,
                     .beta2 = 0.95f,
                     .eps = 1e-8f,
                     .one_minus_beta1 = 0.1f,
                     .one_minus_beta2 = 0.05f,
                     .weight_decay = 0.1f,
                     .grad_scale = 1.0f,
                     .bias_corr1 = 0.1f,
                     .bias_corr2_sqrt = 0.2f};
    switch (id) {
    case CALL_embed_fwd:
        return be->embed_forward(be, k.tok, k.wte, k.wpe, k.y, B, T, C, V);
    case CALL_ln_fwd:
        return be->layernorm_forward(be, k.x, k.g, k.b, k.y, k.mean, k.rstd, N, C, 1e-5f);
    case CALL_gemm_qkv_fwd:
        return dense(0, N, C3, C, k.x, k.w_qkv, k.qkv, NULL, NULL, NULL);
    case CALL_bias_qkv:
        return be->bias_act_forward(be, k.qkv, k.qkv, k.bias, N, C3, 1, ACT_NONE);
    case CALL_attn_fwd:
        return be->attention_forward(be, k.qkv, k.ctx, k.lse, &attn);
    case CALL_gemm_attn_proj_fwd:
        return dense(0, N, C, C, k.ctx, k.w_proj, k.y, NULL, NULL, NULL);
    case CALL_bias_attn_proj:
        return be->bias_act_forward(be, k.y, k.y, k.bias, N, C, 1, ACT_NONE);
    case CALL_residual_add:
        return be->add(be, k.y, k.x, k.dx, (size_t)N * C);
    case CALL_gemm_fc_fwd:
        return dense(0, N, FF, C, k.x, k.w_fc, k.z, NULL, NULL, NULL);
    case CALL_bias_act_fc:
        return be->bias_act_forward(be, k.z, k.h, k.bias, N, FF, 1, ACT_GELU_TANH);
    case CALL_gemm_proj_fwd:
        return dense(0, N, C, FF, k.h, k.w_fproj, k.y, NULL, NULL, NULL);
    case CALL_gemm_lm_head_fwd:
        return dense(0, N, V, C, k.x, k.wte, k.logits, NULL, NULL, NULL);
    case CALL_bias_lm_head:
        return be->bias_act_forward(be, k.logits, k.logits, NULL, N, V, 1, ACT_NONE);
    case CALL_xent:
        return be->xent(be, k.logits, k.labels, N, V, 1.0f / 65536, k.dlogits, k.stats);
    case CALL_loss_download:
        return be->download(be, k.host, k.stats, sizeof(float) * 2 * N);
    case CALL_gemm_lm_head_dw:
        return dense(1, N, V, C, k.x, NULL, NULL, k.dlogits, k.dwte, NULL);
    case CALL_gemm_lm_head_dx:
        return dense(2, N, V, C, NULL, k.wte, NULL, k.dlogits, NULL, k.dx);
    case CALL_ln_bwd:
        return be->layernorm_backward(be, k.dy, k.x, k.g, k.mean, k.rstd, k.dx, k.db, k.db + C, N,
                                      C);
    case CALL_residual_copy:
        return be->copy(be, k.dx, k.dy, sizeof(float) * N * C);
    case CALL_bias_grad_c768:
        return be->bias_grad(be, k.db, k.dy, N, C, 1);
    case CALL_gemm_proj_dw:
        return dense(1, N, C, FF, k.h, NULL, NULL, k.dy, k.dw, NULL);
    case CALL_gemm_proj_dx:
        return dense(2, N, C, FF, NULL, k.w_fproj, NULL, k.dy, NULL, k.dh);
    case CALL_act_grad_fc:
        return be->act_backward(be, k.dh, k.dh, k.z, k.h, (size_t)N * FF, ACT_GELU_TANH);
    case CALL_bias_grad_c3072:
        return be->bias_grad(be, k.db, k.dh, N, FF, 1);
    case CALL_gemm_fc_dw:
        return dense(1, N, FF, C, k.x, NULL, NULL, k.dh, k.dw, NULL);
    case CALL_gemm_fc_dx:
        return dense(2, N, FF, C, NULL, k.w_fc, NULL, k.dh, NULL, k.dx);
    case CALL_gemm_attn_proj_dw:
        return dense(1, N, C, C, k.ctx, NULL, NULL, k.dy, k.dw, NULL);
    case CALL_gemm_attn_proj_dx:
        return dense(2, N, C, C, NULL, k.w_proj, NULL, k.dy, NULL, k.dctx);
    case CALL_attn_bwd:
        return be->attention_backward(be, k.qkv, k.ctx, k.lse, k.dctx, k.dqkv, &attn);
    case CALL_bias_grad_c2304:
        return be->bias_grad(be, k.db, k.dqkv, N, C3, 1);
    case CALL_gemm_qkv_dw:
        return dense(1, N, C3, C, k.x, NULL, NULL, k.dqkv, k.dw, NULL);
    case CALL_gemm_qkv_dx:
        return dense(2, N, C3, C, NULL, k.w_qkv, NULL, k.dqkv, NULL, k.dx);
    case CALL_embed_bwd:
        return be->embed_backward(be, k.tok, k.dy, k.dwte, k.dwpe, B, T, C, V, true);
    case CALL_grads_sum:
        return be->copy(be, k.gsum, k.grad, sizeof(float) * N_PARAMS);
    case CALL_grads_add:
        return be->add(be, k.gsum, k.gsum, k.grad, N_PARAMS);
    case CALL_sumsq:
        return be->sumsq(be, k.grad, N_PARAMS, &out);
    case CALL_adam_all:
        return be->adam(be, k.p, k.grad, k.m, k.v, N_PARAMS, &hy);
    case CALL_launch:
        return be->add(be, k.tiny, k.tiny, k.tiny, 1);
    case CALL_sync:
        return be->download(be, k.host, k.tiny, sizeof(double));
    default:
        return err_set("no call %d", (int)id);
    }
}

/* The mean milliseconds of `reps` calls, by the device's events or the
 * host's clock. */
static int time_reps(call_id id, int reps, double *ms)
{
    if (host_timed(id)) {
        double t0 = now_s();
        for (int r = 0; r < reps; r++)
            if (issue(id) < 0)
                return -1;
        *ms = 1e3 * (now_s() - t0) / reps;
        return 0;
    }
    if (be->mark_event(be, 0) < 0)
        return -1;
    for (int r = 0; r < reps; r++)
        if (issue(id) < 0)
            return -1;
    if (be->mark_event(be, 1) < 0 || be->event_ms(be, 0, 1, ms) < 0)
        return -1;
    *ms /= reps;
    return 0;
}

/* The GPU's own time a launch (its gap between kernels and a kernel of
 * one element): the launches queued behind ten passes over the gradient
 * (milliseconds of work), so the host's pace does not show. */
static int gpu_launch_ms(double *ms)
{
    const int reps = 200;
    for (int r = 0; r < 10; r++)
        if (issue(CALL_grads_add) < 0)
            return -1;
    if (be->mark_event(be, 0) < 0)
        return -1;
    for (int r = 0; r < reps; r++)
        if (issue(CALL_launch) < 0)
            return -1;
    if (be->mark_event(be, 1) < 0 || be->event_ms(be, 0, 1, ms) < 0)
        return -1;
    *ms /= reps;
    return 0;
}

/* One call's milliseconds: a warm-up call, one timed call to size the
 * repetitions (about 50 ms of them, 3 to 1,000), then those. */
static int time_call(call_id id, double *ms)
{
    if (id == CALL_launch)
        return gpu_launch_ms(ms);
    double once;
    if (issue(id) < 0 || time_reps(id, 1, &once) < 0)
        return -1;
    int reps = once > 0 ? (int)(50.0 / once) : 1000;
    reps = reps < 3 ? 3 : reps > 1000 ? 1000 : reps;
    return time_reps(id, reps, ms);
}

/* What the host alone spends to queue a launch (no wait inside). */
static int host_launch_ms(double *ms)
{
    const int reps = 1000;
    if (be->download(be, k.host, k.tiny, sizeof(float)) < 0) /* drained */
        return -1;
    double t0 = now_s();
    for (int r = 0; r < reps; r++)
        if (issue(CALL_launch) < 0)
            return -1;
    *ms = 1e3 * (now_s() - t0) / reps;
    return be->download(be, k.host, k.tiny, sizeof(float));
}

int main(int argc, char **argv)
{
    precision_kind p = PRECISION_FP32;
    if (argc == 2 && !strcmp(argv[1], "tf32"))
        p = PRECISION_TF32;
    else if (argc == 2 && !strcmp(argv[1], "bf16"))
        p = PRECISION_BF16;
    else if (argc > 2 || (argc == 2 && strcmp(argv[1], "fp32"))) {
        fprintf(stderr, "usage: gpu_calls [fp32|tf32|bf16]\n");
        return 2;
    }
    const char *why;
    int usable = backend_cuda_usable(0, &why);
    if (usable != 1) {
        printf("%s: %s\n",
               usable < 0 ? "FAILED: there is a GPU this build cannot use"
                          : "SKIPPED: no usable GPU",
               why);
        return usable < 0 ? 1 : 77;
    }
    backend_options o = {.device = DEVICE_CUDA,
                         .threads = 1,
                         .precision = p,
                         .local_size = 1,
                         .deterministic = true};
    be = backend_cuda_open(&o);
    if (!be) {
        fprintf(stderr, "gpu_calls: %s\n", err_msg());
        return 1;
    }
    setup();
    printf("key,ms\n");
    for (int id = 0; id < N_CALLS; id++) {
        double ms;
        if (time_call((call_id)id, &ms) < 0) {
            fprintf(stderr, "gpu_calls: %s: %s\n", keys[id], err_msg());
            return 1;
        }
        printf("%s,%.6f\n", keys[id], ms);
    }
    double ms;
    if (host_launch_ms(&ms) < 0) {
        fprintf(stderr, "gpu_calls: host_launch: %s\n", err_msg());
        return 1;
    }
    printf("host_launch,%.6f\n", ms);
    backend_close(be);
    return fflush(stdout) == 0 ? 0 : 1;
}
