/* test_gpu_ops: every operation of the CUDA backend against the CPU backend
 * on the same random inputs. float32: max |gpu - cpu| / max |cpu| <= 1e-5
 * (matrix products sum in different orders); TF32 and bf16 matrix products
 * against the CPU's emulation of them: <= 2e-3 and 1e-2 (gemm_tol), or,
 * on a GPU without their tensor cores (below compute capability 8.0: a
 * T4), as the fp32 products they fall back to (kernels/cuda/gpucaps.h);
 * dropout masks: identical; the sequence operations' tolerances are given
 * beside each test. Reports SKIPPED (exit 77) where no GPU is usable. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cuda/gpucaps.h"
#include "testutil.h"
#include "util/err.h"

/* gpu is gpu_at[PRECISION_FP32]; cpu_at[p] emulates precision p. */
static backend *cpu, *gpu, *gpu_at[3], *cpu_at[3];

static void setup(void)
{
    cpu = backend_cpu_open(1);
    for (int p = PRECISION_FP32; p <= PRECISION_BF16; p++) {
        backend_options o = {.device = DEVICE_CUDA,
                             .threads = 1,
                             .precision = (precision_kind)p,
                             .local_rank = 0,
                             .local_size = 1,
                             .deterministic = true};
        gpu_at[p] = backend_cuda_open(&o);
        ck_assert_msg(gpu_at[p] != NULL, "%s", err_msg());
        cpu_at[p] = backend_cpu_open(1);
        ck_assert_ptr_nonnull(cpu_at[p]);
        cpu_at[p]->precision = (precision_kind)p;
    }
    gpu = gpu_at[PRECISION_FP32];
}

static void teardown(void)
{
    for (int p = PRECISION_FP32; p <= PRECISION_BF16; p++) {
        backend_close(gpu_at[p]);
        backend_close(cpu_at[p]);
    }
    backend_close(cpu);
}

/* A buffer on both backends with the same contents. */
typedef struct {
    float *c, *g;
    size_t n;
} pair;

static pair pair_new(backend *gb, size_t n, float lo, float hi, uint64_t seed)
{
    pair p = {.n = n};
    float *host = malloc(sizeof(float) * (n ? n : 1));
    tu_fill_uniform(host, n, lo, hi, seed);
    ck_assert_int_eq(cpu->alloc(cpu, (void **)&p.c, sizeof(float) * n), 0);
    ck_assert_int_eq(gb->alloc(gb, (void **)&p.g, sizeof(float) * n), 0);
    ck_assert_int_eq(cpu->upload(cpu, p.c, host, sizeof(float) * n), 0);
    ck_assert_int_eq(gb->upload(gb, p.g, host, sizeof(float) * n), 0);
    free(host);
    return p;
}

static void pair_free(backend *gb, pair *p)
{
    cpu->release(cpu, p->c);
    gb->release(gb, p->g);
}

/* max |gpu - cpu| / max |cpu| */
static double rel_err(backend *gb, const pair *p)
{
    float *a = malloc(sizeof(float) * p->n), *b = malloc(sizeof(float) * p->n);
    ck_assert_int_eq(gb->download(gb, a, p->g, sizeof(float) * p->n), 0);
    ck_assert_int_eq(cpu->download(cpu, b, p->c, sizeof(float) * p->n), 0);
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < p->n; i++) {
        double d = fabs((double)a[i] - b[i]);
        worst = d > worst || isnan(d) ? d : worst;
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    }
    free(a);
    free(b);
    return scale > 0 ? worst / scale : worst;
}

/* The tolerances of matrix products at each precision, against the CPU's
 * emulation of the same precision: float32 sums in other orders (1e-5);
 * TF32 and bf16 inputs rounded perhaps otherwise than the CPU's nearest-even
 * (cuBLAS does not say how it converts, and its bf16 compute type may take
 * TF32 instead), so up to what that rounding itself costs on these sizes:
 * about 2^-11 and 2^-8 of the largest output. */
static const double gemm_tol[3] = {1e-5, 2e-3, 1e-2};

/* C at precision p on the GPU against the CPU's emulation of what the GPU
 * runs of it (gb->precision: p, or fp32 where it falls back); *same_as_fp32
 * says whether the GPU's C equals, bitwise, what its fp32 product gives. */
static void check_gemm(int p, bool ta, bool tb, bool *same_as_fp32)
{
    const int m = 64, n = 256, k = 784;
    backend *gb = gpu_at[p];
    const int run = gb->precision;
    pair a = pair_new(gb, (size_t)m * k, -1, 1, 1), b = pair_new(gb, (size_t)k * n, -1, 1, 2);
    pair c = pair_new(gb, (size_t)m * n, -1, 1, 3), c32 = pair_new(gpu, (size_t)m * n, -1, 1, 3);
    int lda = ta ? m : k, ldb = tb ? k : n;
    ck_assert_int_eq(
        cpu_at[run]->gemm(cpu_at[run], ta, tb, m, n, k, 0.5f, a.c, lda, b.c, ldb, 0.25f, c.c, n),
        0);
    ck_assert_int_eq(gb->gemm(gb, ta, tb, m, n, k, 0.5f, a.g, lda, b.g, ldb, 0.25f, c.g, n), 0);
    ck_assert_int_eq(gpu->gemm(gpu, ta, tb, m, n, k, 0.5f, a.g, lda, b.g, ldb, 0.25f, c32.g, n), 0);
    double e = rel_err(gb, &c);
    ck_assert_msg(e <= gemm_tol[run],
                  "gemm at precision %d (run at %d), ta=%d tb=%d: relative error %g > %g", p, run,
                  ta, tb, e, gemm_tol[run]);
    float *x = malloc(sizeof(float) * c.n), *y = malloc(sizeof(float) * c.n);
    ck_assert_int_eq(gb->download(gb, x, c.g, sizeof(float) * c.n), 0);
    ck_assert_int_eq(gpu->download(gpu, y, c32.g, sizeof(float) * c.n), 0);
    *same_as_fp32 = memcmp(x, y, sizeof(float) * c.n) == 0;
    free(x), free(y);
    pair_free(gb, &a), pair_free(gb, &b), pair_free(gb, &c), pair_free(gpu, &c32);
}

/* Each precision runs as this GPU's compute capability says
 * (gpucaps_precision). Where it has TF32 and bf16 tensor cores (8.0 on),
 * each is within its tolerance of the CPU's emulation of it, and really in
 * use: their products are not the fp32 ones. Where it has none (a T4,
 * 7.5), the backend passes cuBLAS's CUBLAS_COMPUTE_32F for them: the
 * products are the fp32 ones bit for bit (the same call), and so within
 * fp32's tolerance of the CPU's fp32 (not merely of its rounding
 * emulation, which any fp32 product would pass). */
START_TEST(gemm_each_precision)
{
    int cc = gpu->compute_capability;
    for (int p = PRECISION_FP32; p <= PRECISION_BF16; p++) {
        int run = gpucaps_precision((precision_kind)p, cc / 10, cc % 10);
        ck_assert_msg((int)gpu_at[p]->precision == run,
                      "precision %d runs at %d on compute capability %d.%d, not %d", p,
                      gpu_at[p]->precision, cc / 10, cc % 10, run);
        ck_assert_int_eq(gpu_at[p]->precision_note[0] != '\0', run != p);
        for (int t = 0; t < 4; t++) {
            bool same;
            check_gemm(p, t & 1, t & 2, &same);
            if (p != PRECISION_FP32 && run == p)
                ck_assert_msg(!same, "gemm at precision %d equals the fp32 product", p);
            if (run != p)
                ck_assert_msg(same, "gemm at precision %d, falling back, is not the fp32 product",
                              p);
        }
    }
}
END_TEST

/* Attention's products: heads interleaved in rows of 3C (queries, keys),
 * scores in T x T blocks, every transpose; the batch is one cuBLAS call
 * where the CPU loops, so the same tolerance as gemm (sums in other
 * orders). */
START_TEST(gemm_strided_batched_heads)
{
    const int t = 37, hd = 16, heads = 4, c3 = 3 * heads * hd;
    for (int p = PRECISION_FP32; p <= PRECISION_BF16; p++) {
        backend *gb = gpu_at[p], *cb = cpu_at[gb->precision]; /* what runs of p */
        pair qkv = pair_new(gb, (size_t)t * c3, -1, 1, 5);
        pair att = pair_new(gb, (size_t)heads * t * t, -1, 1, 6);
        for (int tr = 0; tr < 4; tr++) {
            bool ta = tr & 1, tb = tr & 2;
            /* scores (t x t) = op(Q) op(K), Q and K t x hd or hd x t read in
             * place: with a transpose the same memory read as the other shape */
            const float *kc = qkv.c + heads * hd, *kg = qkv.g + heads * hd;
            ck_assert_int_eq(cb->gemm_strided_batched(cb, ta, tb, t, t, hd, 0.5f, qkv.c,
                                                      ta ? t : c3, hd, kc, tb ? c3 : t, hd, 0.25f,
                                                      att.c, t, (long long)t * t, heads),
                             0);
            ck_assert_int_eq(gb->gemm_strided_batched(gb, ta, tb, t, t, hd, 0.5f, qkv.g,
                                                      ta ? t : c3, hd, kg, tb ? c3 : t, hd, 0.25f,
                                                      att.g, t, (long long)t * t, heads),
                             0);
            double e = rel_err(gb, &att);
            ck_assert_msg(e <= gemm_tol[gb->precision],
                          "gemm_strided_batched at precision %d ta=%d tb=%d: %g", p, ta, tb, e);
        }
        pair_free(gb, &qkv), pair_free(gb, &att);
    }
}
END_TEST

/* Every activation through bias_act_forward and act_backward, GPT-2's
 * gelu_tanh (ACT_GELU_TANH) among them: the kernels call math_act and
 * math_act_grad, whose gelu_tanh is math.h's math_tanh_abs (math_expf);
 * 1e-5 as for every transcendental (math.h). */
START_TEST(activations)
{
    const int rows = 37, cols = 300;
    for (int act = ACT_NONE; act <= ACT_GELU_TANH; act++) {
        pair z = pair_new(gpu, (size_t)rows * cols, -4, 4, 10 + act);
        pair y = pair_new(gpu, (size_t)rows * cols, 0, 0, 0);
        pair bias = pair_new(gpu, cols, -1, 1, 20 + act);
        pair dy = pair_new(gpu, (size_t)rows * cols, -1, 1, 30 + act);
        ck_assert_int_eq(cpu->bias_act_forward(cpu, z.c, y.c, bias.c, rows, cols / 4, 4, act), 0);
        ck_assert_int_eq(gpu->bias_act_forward(gpu, z.g, y.g, bias.g, rows, cols / 4, 4, act), 0);
        ck_assert_double_le(rel_err(gpu, &z), 1e-5);
        ck_assert_double_le(rel_err(gpu, &y), 1e-5);
        size_t n = (size_t)rows * cols;
        ck_assert_int_eq(cpu->act_backward(cpu, dy.c, dy.c, z.c, y.c, n, act), 0);
        ck_assert_int_eq(gpu->act_backward(gpu, dy.g, dy.g, z.g, y.g, n, act), 0);
        ck_assert_msg(rel_err(gpu, &dy) <= 1e-5, "act %d backward", act);
        pair_free(gpu, &z), pair_free(gpu, &y), pair_free(gpu, &bias), pair_free(gpu, &dy);
    }
}
END_TEST

START_TEST(bias_grad_and_sumsq)
{
    const int rows = 1000, cols = 129;
    pair dz = pair_new(gpu, (size_t)rows * cols, -1, 1, 40), db = pair_new(gpu, cols, 0, 0, 0);
    ck_assert_int_eq(cpu->bias_grad(cpu, db.c, dz.c, rows, cols, 1), 0);
    ck_assert_int_eq(gpu->bias_grad(gpu, db.g, dz.g, rows, cols, 1), 0);
    ck_assert_double_le(rel_err(gpu, &db), 1e-5);
    double sc, sg;
    ck_assert_int_eq(cpu->sumsq(cpu, dz.c, dz.n, &sc), 0);
    ck_assert_int_eq(gpu->sumsq(gpu, dz.g, dz.n, &sg), 0);
    ck_assert_double_le(fabs(sc - sg) / sc, 1e-12);
    pair_free(gpu, &dz), pair_free(gpu, &db);
}
END_TEST

/* Convolution forward and both backward products at precision p (its
 * products at precision_of_conv(p) on both backends: TF32 for bf16), several
 * geometries. */
static void check_conv_at(int p, conv_geom g)
{
    backend *gb = gpu_at[p], *cb = cpu_at[gb->precision]; /* what runs of p */
    const double tol = gemm_tol[precision_of_conv(gb->precision)];
    const int rows = 5;
    g.out_h = (g.in_h + 2 * g.pad - g.k) / g.stride + 1;
    g.out_w = (g.in_w + 2 * g.pad - g.k) / g.stride + 1;
    size_t nx = (size_t)rows * g.in_c * g.in_h * g.in_w, nw = (size_t)g.out_c * g.in_c * g.k * g.k;
    size_t ny = (size_t)rows * g.out_c * g.out_h * g.out_w;
    pair x = pair_new(gb, nx, -1, 1, 90), w = pair_new(gb, nw, -1, 1, 91);
    pair y = pair_new(gb, ny, 0, 0, 0), dy = pair_new(gb, ny, -1, 1, 92);
    pair dw = pair_new(gb, nw, 0, 0, 0), dx = pair_new(gb, nx, 0, 0, 0);
    void *pc, *pg;
    ck_assert_int_eq(cb->conv_plan(cb, &g, rows, rows, &pc), 0);
    ck_assert_msg(gb->conv_plan(gb, &g, rows, rows, &pg) == 0, "%s", err_msg());
    ck_assert_int_eq(cb->conv_forward(cb, pc, x.c, w.c, y.c, rows), 0);
    ck_assert_int_eq(gb->conv_forward(gb, pg, x.g, w.g, y.g, rows), 0);
    ck_assert_double_le(rel_err(gb, &y), tol);
    ck_assert_int_eq(cb->conv_backward(cb, pc, x.c, w.c, dy.c, dw.c, dx.c, rows), 0);
    ck_assert_int_eq(gb->conv_backward(gb, pg, x.g, w.g, dy.g, dw.g, dx.g, rows), 0);
    ck_assert_double_le(rel_err(gb, &dw), tol);
    ck_assert_double_le(rel_err(gb, &dx), tol);
    cb->plan_release(cb, pc);
    gb->plan_release(gb, pg);
    pair_free(gb, &x), pair_free(gb, &w), pair_free(gb, &y), pair_free(gb, &dy);
    pair_free(gb, &dw), pair_free(gb, &dx);
}

static void check_conv(conv_geom g)
{
    for (int p = PRECISION_FP32; p <= PRECISION_BF16; p++)
        check_conv_at(p, g);
}

START_TEST(convolutions)
{
    check_conv(
        (conv_geom){.in_c = 3, .in_h = 28, .in_w = 28, .out_c = 16, .k = 3, .stride = 1, .pad = 1});
    check_conv((conv_geom){
        .in_c = 16, .in_h = 14, .in_w = 14, .out_c = 32, .k = 3, .stride = 2, .pad = 1});
    check_conv(
        (conv_geom){.in_c = 8, .in_h = 9, .in_w = 7, .out_c = 4, .k = 1, .stride = 1, .pad = 0});
    check_conv(
        (conv_geom){.in_c = 2, .in_h = 11, .in_w = 11, .out_c = 3, .k = 5, .stride = 2, .pad = 2});
}
END_TEST

/* What conv_workspace tells of a convolution (what the start-up memory
 * check counts) is what conv_plan then takes: the shared workspace grows
 * to it, in bytes_allocated, evaluation's larger batch included; a fresh
 * backend each, whose workspace starts empty. */
START_TEST(conv_workspace_as_planned)
{
    conv_geom shapes[] = {
        {.in_c = 3, .in_h = 28, .in_w = 28, .out_c = 16, .k = 3, .stride = 1, .pad = 1},
        {.in_c = 16, .in_h = 14, .in_w = 14, .out_c = 32, .k = 3, .stride = 2, .pad = 1},
        {.in_c = 64, .in_h = 32, .in_w = 32, .out_c = 64, .k = 5, .stride = 1, .pad = 2},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        conv_geom g = shapes[i];
        g.out_h = (g.in_h + 2 * g.pad - g.k) / g.stride + 1;
        g.out_w = (g.in_w + 2 * g.pad - g.k) / g.stride + 1;
        backend_options o = {.device = DEVICE_CUDA,
                             .threads = 1,
                             .local_rank = 0,
                             .local_size = 1,
                             .deterministic = true};
        backend *be = backend_cuda_open(&o);
        ck_assert_msg(be != NULL, "%s", err_msg());
        uint64_t told = 1;
        ck_assert_msg(be->conv_workspace(be, &g, 32, 100, &told) == 0, "%s", err_msg());
        size_t before = be->bytes_allocated;
        void *plan;
        ck_assert_msg(be->conv_plan(be, &g, 32, 100, &plan) == 0, "%s", err_msg());
        ck_assert_msg(be->bytes_allocated - before == told, "shape %zu: told %llu, took %zu", i,
                      (unsigned long long)told, be->bytes_allocated - before);
        be->plan_release(be, plan);
        backend_close(be);
    }
}
END_TEST

static void check_pool(pool_geom g)
{
    const int rows = 4;
    g.out_h = (g.in_h + 2 * g.pad - g.k_h) / g.stride + 1;
    g.out_w = (g.in_w + 2 * g.pad - g.k_w) / g.stride + 1;
    size_t nx = (size_t)rows * g.c * g.in_h * g.in_w, ny = (size_t)rows * g.c * g.out_h * g.out_w;
    pair x = pair_new(gpu, nx, -1, 1, 93), y = pair_new(gpu, ny, 0, 0, 0);
    pair dy = pair_new(gpu, ny, -1, 1, 94), dx = pair_new(gpu, nx, 0, 0, 0);
    void *pc, *pg;
    ck_assert_int_eq(cpu->pool_plan(cpu, &g, rows, &pc), 0);
    ck_assert_msg(gpu->pool_plan(gpu, &g, rows, &pg) == 0, "%s", err_msg());
    ck_assert_int_eq(cpu->pool_forward(cpu, pc, x.c, y.c, rows), 0);
    ck_assert_int_eq(gpu->pool_forward(gpu, pg, x.g, y.g, rows), 0);
    ck_assert_double_le(rel_err(gpu, &y), 1e-6);
    ck_assert_int_eq(cpu->pool_backward(cpu, pc, x.c, y.c, dy.c, dx.c, rows), 0);
    ck_assert_int_eq(gpu->pool_backward(gpu, pg, x.g, y.g, dy.g, dx.g, rows), 0);
    ck_assert_double_le(rel_err(gpu, &dx), 1e-6);
    cpu->plan_release(cpu, pc);
    gpu->plan_release(gpu, pg);
    pair_free(gpu, &x), pair_free(gpu, &y), pair_free(gpu, &dy), pair_free(gpu, &dx);
}

START_TEST(poolings)
{
    for (int max = 0; max < 2; max++) {
        check_pool((pool_geom){
            .c = 8, .in_h = 28, .in_w = 28, .k_h = 2, .k_w = 2, .stride = 2, .max = max});
        check_pool((pool_geom){
            .c = 3, .in_h = 15, .in_w = 15, .k_h = 3, .k_w = 3, .stride = 2, .pad = 1, .max = max});
        check_pool((pool_geom){
            .c = 16, .in_h = 8, .in_w = 8, .k_h = 8, .k_w = 8, .stride = 1, .max = max});
    }
}
END_TEST

START_TEST(batchnorm_pieces)
{
    const int outer = 16, ch = 12, inner = 49;
    size_t n = (size_t)outer * ch * inner;
    pair x = pair_new(gpu, n, -2, 3, 95), dz = pair_new(gpu, n, -1, 1, 96);
    pair xhat = pair_new(gpu, n, 0, 0, 0), z = pair_new(gpu, n, 0, 0, 0),
         y = pair_new(gpu, n, 0, 0, 0);
    pair dx = pair_new(gpu, n, 0, 0, 0), stat = pair_new(gpu, 6 * (size_t)ch, 0.5f, 1.5f, 97);
    double *sums, hc[24], hg[24];
    ck_assert_int_eq(gpu->alloc(gpu, (void **)&sums, sizeof(double) * 2 * ch), 0);
    ck_assert_int_eq(cpu->channel_sums(cpu, x.c, x.c, outer, ch, inner, hc), 0);
    ck_assert_int_eq(gpu->channel_sums(gpu, x.g, x.g, outer, ch, inner, sums), 0);
    ck_assert_int_eq(gpu->download(gpu, hg, sums, sizeof hg), 0);
    for (int i = 0; i < 2 * ch; i++)
        ck_assert_double_le(fabs(hc[i] - hg[i]), 1e-9 * (fabs(hc[i]) + 1));
    /* the statistics from the same sums (the CPU's, on both), in training
     * (running statistics moved) and in evaluation (read) */
    ck_assert_int_eq(gpu->upload(gpu, sums, hc, sizeof hc), 0);
    pair ms = pair_new(gpu, 2 * (size_t)ch, 0, 0, 0),
         run = pair_new(gpu, 2 * (size_t)ch, 0.5f, 2, 98);
    for (int train = 1; train >= 0; train--) {
        double count = (double)outer * inner;
        ck_assert_int_eq(cpu->bn_stats(cpu, train ? hc : NULL, count, ch, 1e-5, 0.1, ms.c,
                                       ms.c + ch, run.c, run.c + ch),
                         0);
        ck_assert_int_eq(gpu->bn_stats(gpu, train ? sums : NULL, count, ch, 1e-5, 0.1, ms.g,
                                       ms.g + ch, run.g, run.g + ch),
                         0);
        ck_assert_double_le(rel_err(gpu, &ms), 1e-6);
        ck_assert_double_le(rel_err(gpu, &run), 1e-6);
    }
    ck_assert_int_eq(cpu->sums_to_float(cpu, ms.c, hc, 2 * (size_t)ch, 7.0), 0);
    ck_assert_int_eq(gpu->sums_to_float(gpu, ms.g, sums, 2 * (size_t)ch, 7.0), 0);
    ck_assert_double_le(rel_err(gpu, &ms), 0.0); /* one division, correctly rounded on both */
    pair_free(gpu, &ms), pair_free(gpu, &run);
    /* stat: mean, invstd, gamma, beta, mean_dz, mean_dzxhat (ch each) */
    const float *sc = stat.c, *sg = stat.g;
    ck_assert_int_eq(cpu->bn_forward(cpu, x.c, xhat.c, z.c, y.c, sc, sc + ch, sc + 2 * ch,
                                     sc + 3 * ch, outer, ch, inner, ACT_GELU),
                     0);
    ck_assert_int_eq(gpu->bn_forward(gpu, x.g, xhat.g, z.g, y.g, sg, sg + ch, sg + 2 * ch,
                                     sg + 3 * ch, outer, ch, inner, ACT_GELU),
                     0);
    ck_assert_double_le(rel_err(gpu, &xhat), 1e-6);
    ck_assert_double_le(rel_err(gpu, &y), 1e-5);
    ck_assert_int_eq(cpu->bn_backward(cpu, dz.c, xhat.c, dx.c, sc + 2 * ch, sc + ch, sc + 4 * ch,
                                      sc + 5 * ch, outer, ch, inner),
                     0);
    ck_assert_int_eq(gpu->bn_backward(gpu, dz.g, xhat.g, dx.g, sg + 2 * ch, sg + ch, sg + 4 * ch,
                                      sg + 5 * ch, outer, ch, inner),
                     0);
    ck_assert_double_le(rel_err(gpu, &dx), 1e-5);
    gpu->release(gpu, sums);
    pair_free(gpu, &x), pair_free(gpu, &dz), pair_free(gpu, &xhat), pair_free(gpu, &z);
    pair_free(gpu, &y), pair_free(gpu, &dx), pair_free(gpu, &stat);
}
END_TEST

/* int32 ids (tokens, labels) on both backends. */
typedef struct {
    int32_t *c, *g;
} ids;

static ids ids_new(const int32_t *host, size_t n)
{
    ids p;
    ck_assert_int_eq(cpu->alloc(cpu, (void **)&p.c, sizeof(int32_t) * n), 0);
    ck_assert_int_eq(gpu->alloc(gpu, (void **)&p.g, sizeof(int32_t) * n), 0);
    ck_assert_int_eq(cpu->upload(cpu, p.c, host, sizeof(int32_t) * n), 0);
    ck_assert_int_eq(gpu->upload(gpu, p.g, host, sizeof(int32_t) * n), 0);
    return p;
}

static void ids_free(ids *p)
{
    cpu->release(cpu, p->c);
    gpu->release(gpu, p->g);
}

/* max over elements of |gpu - cpu| / |cpu| (elements the CPU has at 0
 * must be 0 on the GPU too) */
static double rel_err_each(backend *gb, const pair *p)
{
    float *a = malloc(sizeof(float) * p->n), *b = malloc(sizeof(float) * p->n);
    ck_assert_int_eq(gb->download(gb, a, p->g, sizeof(float) * p->n), 0);
    ck_assert_int_eq(cpu->download(cpu, b, p->c, sizeof(float) * p->n), 0);
    double worst = 0.0;
    for (size_t i = 0; i < p->n; i++) {
        double d = fabs((double)a[i] - b[i]), e = b[i] != 0.0f ? d / fabs(b[i]) : d * 1e30;
        worst = e > worst || isnan(e) ? e : worst;
    }
    free(a);
    free(b);
    return worst;
}

/* Softmax cross-entropy: a classifier's 10 classes (a thread a row,
 * math_xent_row as on the CPU: 1e-5 of the largest value), then 300
 * classes and GPT-2's 50,257 (a block a row, online maximum and sum):
 * the loss and the arg-max's hit within 1e-5 of the largest value (an
 * arg-max that differs gives 1 / ~10); dz element by element within 1e-4
 * relatively, since most of a large vocabulary's dz are tiny and a
 * comparison with the largest would hide them: the CPU sums 50,257
 * terms one after the other in float, rounding errors growing as
 * sqrt(n) eps ~ 1.4e-5 typically, more at worst, and expf differs by up
 * to 2 ulp. Without dz, the same stats. */
START_TEST(softmax_cross_entropy)
{
    const int shapes[][2] = {{300, 10}, {37, 300}, {8, 50257}};
    for (int s = 0; s < 3; s++) {
        int rows = shapes[s][0], cols = shapes[s][1];
        pair z = pair_new(gpu, (size_t)rows * cols, -8, 8, 50), dz = pair_new(gpu, z.n, 0, 0, 0);
        pair st = pair_new(gpu, 2 * (size_t)rows, 0, 0, 0);
        int32_t labels[300];
        for (int r = 0; r < rows; r++)
            labels[r] = (int32_t)(((unsigned)r * 7919u + 13u) % (unsigned)cols);
        ids l = ids_new(labels, (size_t)rows);
        ck_assert_int_eq(cpu->xent(cpu, z.c, l.c, rows, cols, 1.0f / rows, dz.c, st.c), 0);
        ck_assert_int_eq(gpu->xent(gpu, z.g, l.g, rows, cols, 1.0f / rows, dz.g, st.g), 0);
        double e = cols <= 64 ? rel_err(gpu, &dz) : rel_err_each(gpu, &dz);
        ck_assert_msg(e <= (cols <= 64 ? 1e-5 : 1e-4), "xent dz, %d classes: %g", cols, e);
        ck_assert_msg(rel_err(gpu, &st) <= 1e-5, "xent stats, %d classes", cols);
        ck_assert_int_eq(gpu->xent(gpu, z.g, l.g, rows, cols, 1.0f / rows, NULL, st.g), 0);
        ck_assert_msg(rel_err(gpu, &st) <= 1e-5, "xent stats without dz, %d classes", cols);
        ids_free(&l);
        pair_free(gpu, &z), pair_free(gpu, &dz), pair_free(gpu, &st);
    }
}
END_TEST

/* Embeddings: forward is one float sum of the same two values on both, and
 * backward adds the same values in the same order (each token's positions
 * in order, each position's rows in order): both exactly the CPU's.
 * 700 positions (the scatter scans ids 256 at a time) over a vocabulary of
 * 50, so tokens repeat, within and across the scan's chunks; and once
 * accumulating onto a tied output layer's share. */
START_TEST(embedding_exact)
{
    const int rows = 7, t = 100, c = 72, vocab = 50;
    int32_t tok[700];
    for (int i = 0; i < rows * t; i++)
        tok[i] = (int32_t)((i * 7919u + (unsigned)i / 3) % (unsigned)(vocab - 3)); /* 3 unused */
    ids k = ids_new(tok, (size_t)rows * t);
    pair wte = pair_new(gpu, (size_t)vocab * c, -1, 1, 110),
         wpe = pair_new(gpu, (size_t)t * c, -1, 1, 111);
    pair y = pair_new(gpu, (size_t)rows * t * c, 0, 0, 0), dy = pair_new(gpu, y.n, -1, 1, 112);
    ck_assert_int_eq(cpu->embed_forward(cpu, k.c, wte.c, wpe.c, y.c, rows, t, c, vocab), 0);
    ck_assert_int_eq(gpu->embed_forward(gpu, k.g, wte.g, wpe.g, y.g, rows, t, c, vocab), 0);
    ck_assert_double_eq(rel_err(gpu, &y), 0.0);
    for (int acc = 0; acc < 2; acc++) {
        pair dwte = pair_new(gpu, wte.n, -1, 1, 113), dwpe = pair_new(gpu, wpe.n, 5, 6, 114);
        ck_assert_int_eq(
            cpu->embed_backward(cpu, k.c, dy.c, dwte.c, dwpe.c, rows, t, c, vocab, acc), 0);
        ck_assert_int_eq(
            gpu->embed_backward(gpu, k.g, dy.g, dwte.g, dwpe.g, rows, t, c, vocab, acc), 0);
        ck_assert_msg(rel_err(gpu, &dwte) == 0.0, "dwte, accumulate %d", acc);
        ck_assert_msg(rel_err(gpu, &dwpe) == 0.0, "dwpe, accumulate %d", acc);
        pair_free(gpu, &dwte), pair_free(gpu, &dwpe);
    }
    ids_free(&k);
    pair_free(gpu, &wte), pair_free(gpu, &wpe), pair_free(gpu, &y), pair_free(gpu, &dy);
}
END_TEST

/* Layer norm over rows of GPT-2's 768 and of an odd 37: the same float
 * operations as the CPU, each rounded alone; only the rows' double sums
 * run in another order, which moves a mean or 1/std by an ulp at most
 * rarely: 1e-6 relative (a few ulp). */
START_TEST(layernorm_rows)
{
    const int sizes[][2] = {{64, 768}, {300, 37}};
    for (int s = 0; s < 2; s++) {
        int n = sizes[s][0], c = sizes[s][1];
        size_t nc = (size_t)n * c;
        pair x = pair_new(gpu, nc, -2, 3, 120), g = pair_new(gpu, c, 0.5f, 1.5f, 121);
        pair b = pair_new(gpu, c, -1, 1, 122), y = pair_new(gpu, nc, 0, 0, 0);
        pair mean = pair_new(gpu, n, 0, 0, 0), rstd = pair_new(gpu, n, 0, 0, 0);
        pair dy = pair_new(gpu, nc, -1, 1, 123), dx = pair_new(gpu, nc, 0, 0, 0);
        pair dg = pair_new(gpu, c, 0, 0, 0), db = pair_new(gpu, c, 0, 0, 0);
        ck_assert_int_eq(
            cpu->layernorm_forward(cpu, x.c, g.c, b.c, y.c, mean.c, rstd.c, n, c, 1e-5f), 0);
        ck_assert_int_eq(
            gpu->layernorm_forward(gpu, x.g, g.g, b.g, y.g, mean.g, rstd.g, n, c, 1e-5f), 0);
        ck_assert_double_le(rel_err(gpu, &mean), 1e-6);
        ck_assert_double_le(rel_err(gpu, &rstd), 1e-6);
        ck_assert_double_le(rel_err(gpu, &y), 1e-6);
        ck_assert_int_eq(
            cpu->layernorm_backward(cpu, dy.c, x.c, g.c, mean.c, rstd.c, dx.c, dg.c, db.c, n, c),
            0);
        ck_assert_int_eq(
            gpu->layernorm_backward(gpu, dy.g, x.g, g.g, mean.g, rstd.g, dx.g, dg.g, db.g, n, c),
            0);
        ck_assert_double_le(rel_err(gpu, &dx), 1e-6);
        ck_assert_double_le(rel_err(gpu, &dg), 1e-6);
        ck_assert_double_le(rel_err(gpu, &db), 1e-6);
        /* without dx (the first layer's input needs none) */
        ck_assert_int_eq(
            gpu->layernorm_backward(gpu, dy.g, x.g, g.g, mean.g, rstd.g, NULL, dg.g, db.g, n, c),
            0);
        ck_assert_double_le(rel_err(gpu, &dg), 1e-6);
        pair *all[] = {&x, &g, &b, &y, &mean, &rstd, &dy, &dx, &dg, &db};
        for (int i = 0; i < 10; i++)
            pair_free(gpu, all[i]);
    }
}
END_TEST

START_TEST(dropout_masks_identical)
{
    const size_t n = 100003;
    pair x = pair_new(gpu, n, -1, 1, 60), y = pair_new(gpu, n, 0, 0, 0);
    ck_assert_int_eq(cpu->dropout_forward(cpu, y.c, x.c, n, 0.3f, 42, 2, 17, 123456789), 0);
    ck_assert_int_eq(gpu->dropout_forward(gpu, y.g, x.g, n, 0.3f, 42, 2, 17, 123456789), 0);
    ck_assert_double_eq(rel_err(gpu, &y), 0.0);
    pair_free(gpu, &x), pair_free(gpu, &y);
}
END_TEST

/* add (the residual's sum and its gradient's) exactly, since a float sum
 * of two is rounded once on both; copy bit for bit; odd lengths, so the
 * kernels' tails run */
START_TEST(add_and_copy)
{
    const size_t n = 100003;
    pair a = pair_new(gpu, n, -3, 3, 31), b = pair_new(gpu, n, -3, 3, 32);
    pair y = pair_new(gpu, n, 0, 1, 33), z = pair_new(gpu, n, 0, 1, 34);
    ck_assert_int_eq(cpu->add(cpu, y.c, a.c, b.c, n), 0);
    ck_assert_int_eq(gpu->add(gpu, y.g, a.g, b.g, n), 0);
    ck_assert_double_eq(rel_err(gpu, &y), 0.0);
    /* in place, as backward adds a residual's share: y += a */
    ck_assert_int_eq(cpu->add(cpu, y.c, y.c, a.c, n), 0);
    ck_assert_int_eq(gpu->add(gpu, y.g, y.g, a.g, n), 0);
    ck_assert_double_eq(rel_err(gpu, &y), 0.0);
    ck_assert_int_eq(cpu->copy(cpu, z.c, y.c, sizeof(float) * n), 0);
    ck_assert_int_eq(gpu->copy(gpu, z.g, y.g, sizeof(float) * n), 0);
    ck_assert_double_eq(rel_err(gpu, &z), 0.0);
    pair *all[] = {&a, &b, &y, &z};
    for (int i = 0; i < 4; i++)
        pair_free(gpu, all[i]);
}
END_TEST

START_TEST(adam_step)
{
    const size_t n = 50000;
    pair p = pair_new(gpu, n, -1, 1, 70), g = pair_new(gpu, n, -1, 1, 71);
    pair m = pair_new(gpu, n, -0.1f, 0.1f, 72), v = pair_new(gpu, n, 0, 0.01f, 73);
    adam_hyper h = {.lr = 1e-3f,
                    .beta1 = 0.9f,
                    .beta2 = 0.999f,
                    .eps = 1e-8f,
                    .one_minus_beta1 = 0.1f,
                    .one_minus_beta2 = 0.001f,
                    .weight_decay = 0.01f,
                    .l2 = 0.0f,
                    .grad_scale = 0.5f,
                    .bias_corr1 = 0.271f,
                    .bias_corr2_sqrt = 0.0547f};
    ck_assert_int_eq(cpu->adam(cpu, p.c, g.c, m.c, v.c, n, &h), 0);
    ck_assert_int_eq(gpu->adam(gpu, p.g, g.g, m.g, v.g, n, &h), 0);
    ck_assert_double_le(rel_err(gpu, &p), 1e-6);
    ck_assert_double_le(rel_err(gpu, &m), 1e-6);
    ck_assert_double_le(rel_err(gpu, &v), 1e-6);
    pair_free(gpu, &p), pair_free(gpu, &g), pair_free(gpu, &m), pair_free(gpu, &v);
}
END_TEST

START_TEST(staged_input_arrives)
{
    const size_t n = 4096;
    float *host, *dev, back[4096];
    ck_assert_int_eq(gpu->host_alloc(gpu, (void **)&host, sizeof(float) * n), 0);
    ck_assert_int_eq(gpu->alloc(gpu, (void **)&dev, sizeof(float) * n), 0);
    for (size_t i = 0; i < n; i++)
        host[i] = (float)i;
    ck_assert_int_eq(gpu->upload_async(gpu, 1, dev, host, sizeof(float) * n), 0);
    ck_assert_int_eq(gpu->input_wait(gpu, 1), 0);
    ck_assert_int_eq(gpu->download(gpu, back, dev, sizeof back), 0);
    ck_assert_float_eq(back[4095], 4095.0f);
    ck_assert_int_eq(gpu->input_done(gpu, 1), 0);
    ck_assert_int_eq(gpu->input_host_wait(gpu, 1), 0);
    gpu->release(gpu, dev);
    gpu->host_release(gpu, host);
}
END_TEST

/* Whether two device buffers of the GPU hold the same bits. */
static bool same_bits(backend *gb, const float *a, const float *b, size_t n)
{
    float *x = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
    ck_assert_int_eq(gb->download(gb, x, a, sizeof(float) * n), 0);
    ck_assert_int_eq(gb->download(gb, y, b, sizeof(float) * n), 0);
    bool same = memcmp(x, y, sizeof(float) * n) == 0;
    free(x), free(y);
    return same;
}

/* The squares over a sharded rank's ranges of the gradient: more ranges
 * than one launch takes (384), some empty, against the CPU's and bitwise
 * the same on a second call. */
START_TEST(sumsq_ranges)
{
    const size_t n = 40000;
    const int k = 390;
    pair x = pair_new(gpu, n, -2, 2, 210);
    size_t *ranges = malloc(sizeof *ranges * 2 * k);
    for (int i = 0; i < k; i++) {
        ranges[2 * i] = (size_t)i * 100;
        ranges[2 * i + 1] = ranges[2 * i] + (size_t)(i * 37 % 101);
    }
    double c, g, g2;
    ck_assert_int_eq(cpu->sumsq_ranges(cpu, x.c, ranges, k, &c), 0);
    ck_assert_int_eq(gpu->sumsq_ranges(gpu, x.g, ranges, k, &g), 0);
    ck_assert_int_eq(gpu->sumsq_ranges(gpu, x.g, ranges, k, &g2), 0);
    ck_assert_msg(fabs(c - g) <= 1e-12 * c, "sumsq_ranges: %.17g against the CPU's %.17g", g, c);
    ck_assert_mem_eq(&g, &g2, sizeof g);
    free(ranges);
    pair_free(gpu, &x);
}
END_TEST

/* The embedding's backward at a width past what one block's shared memory
 * held (12,288 channels: it is cut into parts), still exact. */
START_TEST(embedding_wide)
{
    const int rows = 2, t = 6, c = 20000, vocab = 5;
    const int32_t tok[12] = {1, 3, 1, 0, 4, 1, 3, 3, 0, 2, 1, 4};
    ids k = ids_new(tok, (size_t)rows * t);
    pair wte = pair_new(gpu, (size_t)vocab * c, -1, 1, 220),
         wpe = pair_new(gpu, (size_t)t * c, -1, 1, 221);
    pair y = pair_new(gpu, (size_t)rows * t * c, 0, 0, 0), dy = pair_new(gpu, y.n, -1, 1, 222);
    ck_assert_int_eq(cpu->embed_forward(cpu, k.c, wte.c, wpe.c, y.c, rows, t, c, vocab), 0);
    ck_assert_int_eq(gpu->embed_forward(gpu, k.g, wte.g, wpe.g, y.g, rows, t, c, vocab), 0);
    ck_assert_double_eq(rel_err(gpu, &y), 0.0);
    for (int acc = 0; acc < 2; acc++) {
        pair dwte = pair_new(gpu, wte.n, -1, 1, 223), dwpe = pair_new(gpu, wpe.n, 5, 6, 224);
        ck_assert_int_eq(
            cpu->embed_backward(cpu, k.c, dy.c, dwte.c, dwpe.c, rows, t, c, vocab, acc), 0);
        ck_assert_msg(gpu->embed_backward(gpu, k.g, dy.g, dwte.g, dwpe.g, rows, t, c, vocab, acc) ==
                          0,
                      "%s", err_msg());
        ck_assert_msg(rel_err(gpu, &dwte) == 0.0, "dwte, accumulate %d", acc);
        ck_assert_msg(rel_err(gpu, &dwpe) == 0.0, "dwpe, accumulate %d", acc);
        pair_free(gpu, &dwte), pair_free(gpu, &dwpe);
    }
    ids_free(&k);
    pair_free(gpu, &wte), pair_free(gpu, &wpe), pair_free(gpu, &y), pair_free(gpu, &dy);
}
END_TEST

/* ---- GPT-2 124M's shapes ----------------------------------------------
 * configs/gpt2_124m.ini's micro-batch: 8 x 1,024 positions of 768
 * features, an MLP of 3,072, 12 heads, 50,257 tokens; the passes at those
 * shapes, or at a part of them where the simulator (about a million
 * thread instructions a second, and slower for many small blocks) would
 * take too long over all: each one's time under it is in the README.
 * softmax_cross_entropy above has the 50,257 classes. */
enum { G2_ROWS = 8 * 1024, G2_C = 768, G2_MLP = 3072, G2_T = 1024, G2_VOCAB = 50257 };

/* Layer norm over a sequence's 1,024 rows of 768 (the micro-batch's 8,192
 * took 773 s under the simulator): the forward pass, dx, and dg and db
 * summed over the rows. */
START_TEST(gpt2_layernorm)
{
    const int n = G2_T, c = G2_C;
    size_t nc = (size_t)n * c;
    pair x = pair_new(gpu, nc, -2, 3, 140), g = pair_new(gpu, c, 0.5f, 1.5f, 141);
    pair b = pair_new(gpu, c, -1, 1, 142), y = pair_new(gpu, nc, 0, 0, 0);
    pair mean = pair_new(gpu, n, 0, 0, 0), rstd = pair_new(gpu, n, 0, 0, 0);
    pair dy = pair_new(gpu, nc, -1, 1, 143), dx = pair_new(gpu, nc, 0, 0, 0);
    pair dg = pair_new(gpu, c, 0, 0, 0), db = pair_new(gpu, c, 0, 0, 0);
    ck_assert_int_eq(cpu->layernorm_forward(cpu, x.c, g.c, b.c, y.c, mean.c, rstd.c, n, c, 1e-5f),
                     0);
    ck_assert_int_eq(gpu->layernorm_forward(gpu, x.g, g.g, b.g, y.g, mean.g, rstd.g, n, c, 1e-5f),
                     0);
    ck_assert_double_le(rel_err(gpu, &y), 1e-6);
    ck_assert_int_eq(
        cpu->layernorm_backward(cpu, dy.c, x.c, g.c, mean.c, rstd.c, dx.c, dg.c, db.c, n, c), 0);
    ck_assert_int_eq(
        gpu->layernorm_backward(gpu, dy.g, x.g, g.g, mean.g, rstd.g, dx.g, dg.g, db.g, n, c), 0);
    ck_assert_double_le(rel_err(gpu, &dx), 1e-6);
    ck_assert_double_le(rel_err(gpu, &dg), 1e-6);
    ck_assert_double_le(rel_err(gpu, &db), 1e-6);
    /* the same bits again: the rows' ranges are fixed by the shape */
    pair dx2 = pair_new(gpu, nc, 0, 0, 0), dg2 = pair_new(gpu, c, 0, 0, 0),
         db2 = pair_new(gpu, c, 0, 0, 0);
    ck_assert_int_eq(
        gpu->layernorm_backward(gpu, dy.g, x.g, g.g, mean.g, rstd.g, dx2.g, dg2.g, db2.g, n, c), 0);
    ck_assert(same_bits(gpu, dx.g, dx2.g, nc));
    ck_assert(same_bits(gpu, dg.g, dg2.g, (size_t)c));
    ck_assert(same_bits(gpu, db.g, db2.g, (size_t)c));
    pair_free(gpu, &dx2), pair_free(gpu, &dg2), pair_free(gpu, &db2);
    pair_free(gpu, &x), pair_free(gpu, &g), pair_free(gpu, &b), pair_free(gpu, &y);
    pair_free(gpu, &mean), pair_free(gpu, &rstd), pair_free(gpu, &dy), pair_free(gpu, &dx);
    pair_free(gpu, &dg), pair_free(gpu, &db);
}
END_TEST

/* The MLP's bias gradient, 8,192 rows of 3,072, the same bits twice. */
START_TEST(gpt2_bias_grad)
{
    const int rows = G2_ROWS, cols = G2_MLP;
    pair dz = pair_new(gpu, (size_t)rows * cols, -1, 1, 150), db = pair_new(gpu, cols, 0, 0, 0);
    pair db2 = pair_new(gpu, cols, 0, 0, 0);
    ck_assert_int_eq(cpu->bias_grad(cpu, db.c, dz.c, rows, cols, 1), 0);
    ck_assert_int_eq(gpu->bias_grad(gpu, db.g, dz.g, rows, cols, 1), 0);
    ck_assert_double_le(rel_err(gpu, &db), 1e-5);
    ck_assert_int_eq(gpu->bias_grad(gpu, db2.g, dz.g, rows, cols, 1), 0);
    ck_assert(same_bits(gpu, db.g, db2.g, (size_t)cols)); /* the ranges are the shape's */
    pair_free(gpu, &db2);
    pair_free(gpu, &dz), pair_free(gpu, &db);
}
END_TEST

/* The token and position embeddings of 256 tokens over GPT-2's 50,257 x
 * 768 table, both passes, the backward's sums exact (a sequence's 1,024
 * took 183 s under the simulator). The tokens repeat as text's do: a few
 * common ones often, most rarely. */
START_TEST(gpt2_embedding)
{
    const int rows = 1, t = 256, c = G2_C, vocab = G2_VOCAB;
    int32_t tok[256];
    for (int i = 0; i < t; i++) /* a quarter from 16 ids, the rest spread over the table */
        tok[i] = (int32_t)(i % 4 == 0 ? (i * 7u) % 16u : (i * 2654435761u) % (unsigned)vocab);
    ids k = ids_new(tok, (size_t)t);
    pair wte = pair_new(gpu, (size_t)vocab * c, -1, 1, 170),
         wpe = pair_new(gpu, (size_t)t * c, -1, 1, 171);
    pair y = pair_new(gpu, (size_t)rows * t * c, 0, 0, 0), dy = pair_new(gpu, y.n, -1, 1, 172);
    ck_assert_int_eq(cpu->embed_forward(cpu, k.c, wte.c, wpe.c, y.c, rows, t, c, vocab), 0);
    ck_assert_int_eq(gpu->embed_forward(gpu, k.g, wte.g, wpe.g, y.g, rows, t, c, vocab), 0);
    ck_assert_double_eq(rel_err(gpu, &y), 0.0);
    pair dwte = pair_new(gpu, wte.n, 0, 0, 0), dwpe = pair_new(gpu, wpe.n, 0, 0, 0);
    ck_assert_int_eq(cpu->embed_backward(cpu, k.c, dy.c, dwte.c, dwpe.c, rows, t, c, vocab, false),
                     0);
    ck_assert_int_eq(gpu->embed_backward(gpu, k.g, dy.g, dwte.g, dwpe.g, rows, t, c, vocab, false),
                     0);
    ck_assert_double_eq(rel_err(gpu, &dwte), 0.0);
    ck_assert_double_eq(rel_err(gpu, &dwpe), 0.0);
    ids_free(&k);
    pair_free(gpu, &wte), pair_free(gpu, &wpe), pair_free(gpu, &y), pair_free(gpu, &dy);
    pair_free(gpu, &dwte), pair_free(gpu, &dwpe);
}
END_TEST

/* AdamW over 256 K of GPT-2's 124 M parameters (elementwise: the rest is
 * more of the same). */
START_TEST(gpt2_adam)
{
    const size_t n = 1 << 18;
    pair p = pair_new(gpu, n, -1, 1, 190), g = pair_new(gpu, n, -1, 1, 191);
    pair m = pair_new(gpu, n, -0.1f, 0.1f, 192), v = pair_new(gpu, n, 0, 0.01f, 193);
    adam_hyper h = {.lr = 6e-4f,
                    .beta1 = 0.9f,
                    .beta2 = 0.95f,
                    .eps = 1e-8f,
                    .one_minus_beta1 = 0.1f,
                    .one_minus_beta2 = 0.05f,
                    .weight_decay = 0.1f,
                    .grad_scale = 1.0f,
                    .bias_corr1 = 0.1f,
                    .bias_corr2_sqrt = 0.2236f};
    ck_assert_int_eq(cpu->adam(cpu, p.c, g.c, m.c, v.c, n, &h), 0);
    ck_assert_int_eq(gpu->adam(gpu, p.g, g.g, m.g, v.g, n, &h), 0);
    ck_assert_double_le(rel_err(gpu, &p), 1e-6);
    ck_assert_double_le(rel_err(gpu, &m), 1e-6);
    ck_assert_double_le(rel_err(gpu, &v), 1e-6);
    pair_free(gpu, &p), pair_free(gpu, &g), pair_free(gpu, &m), pair_free(gpu, &v);
}
END_TEST

/* Dropout's masks over one layer's activations of a sequence, 1,024 x 768
 * (the micro-batch's 8 x that draw the same way). */
START_TEST(gpt2_dropout)
{
    const size_t n = (size_t)G2_T * G2_C;
    pair x = pair_new(gpu, n, -1, 1, 200), y = pair_new(gpu, n, 0, 0, 0);
    ck_assert_int_eq(cpu->dropout_forward(cpu, y.c, x.c, n, 0.1f, 1337, 3, 5, 0), 0);
    ck_assert_int_eq(gpu->dropout_forward(gpu, y.g, x.g, n, 0.1f, 1337, 3, 5, 0), 0);
    ck_assert_double_eq(rel_err(gpu, &y), 0.0);
    pair_free(gpu, &x), pair_free(gpu, &y);
}
END_TEST

/* ---- fused attention ----------------------------------------------------
 * attention_forward and attention_backward against the unfused path on the
 * CPU backend, as layer_attention.c ran it before the fused ops: per row,
 * the heads' scores q k^T in one strided-batched product, the causal
 * softmax (testutil's, in double), dropout_forward on the (rows, heads,
 * t, t) weights, the weighted values; backward d att = d ctx v^T, d v =
 * weights^T d ctx, dropout_backward, the softmax's backward, d q = d
 * scores k, d k = d scores^T q; lse by
 * plain loops in double. Queries, keys and values uniform in [-3, 3], so
 * the scores (scale 1 / sqrt(hd)) spread over about +-9 and the online
 * softmax's maximum moves from tile to tile. */
typedef struct {
    int rows, t, heads, hd;
    float rate;
    uint64_t first; /* the mask index of weight (0, 0, 0, 0) */
} attn_case;

static attn_args attn_args_of(attn_case k)
{
    return (attn_args){.rows = k.rows,
                       .t = k.t,
                       .c = k.heads * k.hd,
                       .heads = k.heads,
                       .q0 = 0,
                       .nq = k.t,
                       .scale = (float)(1.0 / sqrt((double)k.hd)),
                       .rate = k.rate,
                       .seed = 0x5eed1234abcdULL,
                       .first = k.first,
                       .layer = 3,
                       .step = 11};
}

/* The forward's reference: ctx, and the weights before (att) and after
 * (w, att itself without dropout) the dropout, for the backward. */
static void attn_ref_forward(const attn_args *a, const float *qkv, float *ctx, float *att, float *w)
{
    int hd = a->c / a->heads, c3 = 3 * a->c, t = a->t;
    long long tt = (long long)t * t, row = (long long)t * c3;
    for (int r = 0; r < a->rows; r++)
        ck_assert_int_eq(cpu->gemm_strided_batched(cpu, false, true, t, t, hd, 1.0f, qkv + r * row,
                                                   c3, hd, qkv + r * row + a->c, c3, hd, 0.0f,
                                                   att + r * a->heads * tt, t, tt, a->heads),
                         0);
    size_t all = (size_t)a->rows * a->heads * tt;
    tu_causal_softmax(att, a->rows * a->heads, t, a->scale);
    if (w != att)
        ck_assert_int_eq(
            cpu->dropout_forward(cpu, w, att, all, a->rate, a->seed, a->layer, a->step, a->first),
            0);
    for (int r = 0; r < a->rows; r++)
        ck_assert_int_eq(cpu->gemm_strided_batched(cpu, false, false, t, hd, t, 1.0f,
                                                   w + r * a->heads * tt, t, tt,
                                                   qkv + r * row + 2 * a->c, c3, hd, 0.0f,
                                                   ctx + (size_t)r * t * a->c, a->c, hd, a->heads),
                         0);
}

/* lse[(r * heads + h) * t + i] = log sum_{j <= i} exp(scale q_i . k_j), in
 * double. */
static void attn_ref_lse(const attn_args *a, const float *qkv, float *lse)
{
    int hd = a->c / a->heads, c3 = 3 * a->c, t = a->t;
    double *s = malloc(sizeof(double) * t);
    for (int r = 0; r < a->rows; r++)
        for (int h = 0; h < a->heads; h++)
            for (int i = 0; i < t; i++) {
                const float *q = qkv + ((size_t)r * t + i) * c3 + h * hd;
                double mx = -INFINITY, sum = 0.0;
                for (int j = 0; j <= i; j++) {
                    const float *k = qkv + ((size_t)r * t + j) * c3 + a->c + h * hd;
                    double d = 0.0;
                    for (int e = 0; e < hd; e++)
                        d += (double)q[e] * k[e];
                    s[j] = d * a->scale;
                    mx = s[j] > mx ? s[j] : mx;
                }
                for (int j = 0; j <= i; j++)
                    sum += exp(s[j] - mx);
                lse[((size_t)r * a->heads + h) * t + i] = (float)(mx + log(sum));
            }
    free(s);
}

/* The backward's reference into dqkv, from the forward's att and w
 * (datt: scratch of their size). */
static void attn_ref_backward(const attn_args *a, const float *qkv, const float *att,
                              const float *w, const float *dctx, float *datt, float *dqkv)
{
    int hd = a->c / a->heads, c3 = 3 * a->c, t = a->t;
    long long tt = (long long)t * t, row = (long long)t * c3, h_tt = a->heads * tt;
    for (int r = 0; r < a->rows; r++) {
        const float *dc = dctx + (size_t)r * t * a->c;
        ck_assert_int_eq(cpu->gemm_strided_batched(cpu, false, true, t, t, hd, 1.0f, dc, a->c, hd,
                                                   qkv + r * row + 2 * a->c, c3, hd, 0.0f,
                                                   datt + r * h_tt, t, tt, a->heads),
                         0);
        ck_assert_int_eq(cpu->gemm_strided_batched(cpu, true, false, t, hd, t, 1.0f, w + r * h_tt,
                                                   t, tt, dc, a->c, hd, 0.0f,
                                                   dqkv + r * row + 2 * a->c, c3, hd, a->heads),
                         0);
    }
    size_t all = (size_t)a->rows * h_tt;
    if (a->rate > 0)
        ck_assert_int_eq(cpu->dropout_backward(cpu, datt, datt, all, a->rate, a->seed, a->layer,
                                               a->step, a->first),
                         0);
    tu_causal_softmax_backward(datt, att, a->rows * a->heads, t, a->scale);
    for (int r = 0; r < a->rows; r++) {
        ck_assert_int_eq(cpu->gemm_strided_batched(cpu, false, false, t, hd, t, 1.0f,
                                                   datt + r * h_tt, t, tt, qkv + r * row + a->c, c3,
                                                   hd, 0.0f, dqkv + r * row, c3, hd, a->heads),
                         0);
        ck_assert_int_eq(cpu->gemm_strided_batched(cpu, true, false, t, hd, t, 1.0f,
                                                   datt + r * h_tt, t, tt, qkv + r * row, c3, hd,
                                                   0.0f, dqkv + r * row + a->c, c3, hd, a->heads),
                         0);
    }
}

/* max |gpu - cpu| / max |cpu| over part `part` (0 q, 1 k, 2 v) of rows
 * of 3c, as rel_err over the whole. */
static double rel_err_part(backend *gb, const pair *p, int c, int part)
{
    float *a = malloc(sizeof(float) * p->n), *b = malloc(sizeof(float) * p->n);
    ck_assert_int_eq(gb->download(gb, a, p->g, sizeof(float) * p->n), 0);
    ck_assert_int_eq(cpu->download(cpu, b, p->c, sizeof(float) * p->n), 0);
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < p->n; i++) {
        if ((int)(i % (3 * (size_t)c)) / c != part)
            continue;
        double d = fabs((double)a[i] - b[i]);
        worst = d > worst || isnan(d) ? d : worst;
        scale = fabs(b[i]) > scale ? fabs(b[i]) : scale;
    }
    free(a), free(b);
    return scale > 0 ? worst / scale : worst;
}

/* The buffers of one case, on both backends, and the CPU's weights. */
typedef struct {
    attn_args a;
    pair qkv, ctx, lse, dctx, dqkv;
    float *att, *w, *datt;
} attn_bufs;

static attn_bufs attn_bufs_new(attn_case k)
{
    attn_bufs b = {.a = attn_args_of(k)};
    size_t pos = (size_t)k.rows * k.t, c = (size_t)b.a.c;
    size_t all = (size_t)k.rows * k.heads * k.t * k.t;
    b.qkv = pair_new(gpu, pos * 3 * c, -3, 3, 300);
    b.ctx = pair_new(gpu, pos * c, -7, 7, 301);       /* written over */
    b.lse = pair_new(gpu, pos * k.heads, -7, 7, 302); /* written over */
    b.dctx = pair_new(gpu, pos * c, -1, 1, 303);
    b.dqkv = pair_new(gpu, pos * 3 * c, -7, 7, 304); /* written over */
    ck_assert_int_eq(cpu->alloc(cpu, (void **)&b.att, sizeof(float) * all), 0);
    ck_assert_int_eq(cpu->alloc(cpu, (void **)&b.datt, sizeof(float) * all), 0);
    b.w = b.att;
    if (k.rate > 0)
        ck_assert_int_eq(cpu->alloc(cpu, (void **)&b.w, sizeof(float) * all), 0);
    return b;
}

static void attn_bufs_free(attn_bufs *b)
{
    pair *all[] = {&b->qkv, &b->ctx, &b->lse, &b->dctx, &b->dqkv};
    for (int i = 0; i < 5; i++)
        pair_free(gpu, all[i]);
    cpu->release(cpu, b->att);
    cpu->release(cpu, b->datt);
    if (b->w != b->att)
        cpu->release(cpu, b->w);
}

/* Tolerances, max |gpu - cpu| / max |cpu|: the GPU sums each product in
 * another order (tile by tile), takes e^x from exp2f (2 ulp) where the
 * CPU has math_expf, and rescales by the running maximum; the CPU's
 * gradients pass through the t x t weights rounded to float. Measured
 * under the simulator at every shape here: ctx within 1.6e-6, lse 3e-7,
 * dq, dk and dv 2.0e-6 (T = 1,024; 1.1e-6 up to T = 128); held to about
 * 6 and 10 times that. */
static const double ATTN_TOL_FWD = 1e-5, ATTN_TOL_BWD = 2e-5;

static void attn_check_forward(attn_bufs *b, const char *what)
{
    attn_ref_forward(&b->a, b->qkv.c, b->ctx.c, b->att, b->w);
    attn_ref_lse(&b->a, b->qkv.c, b->lse.c);
    ck_assert_msg(gpu->attention_forward(gpu, b->qkv.g, b->ctx.g, b->lse.g, &b->a) == 0, "%s",
                  err_msg());
    double ec = rel_err(gpu, &b->ctx), el = rel_err(gpu, &b->lse);
    ck_assert_msg(ec <= ATTN_TOL_FWD && el <= ATTN_TOL_FWD, "%s: forward: ctx %g, lse %g", what, ec,
                  el);
}

/* The backward from the GPU's ctx and lse (the forward's, run first) or,
 * when the forward was not run on the GPU, from the CPU's uploaded. */
static void attn_check_backward(attn_bufs *b, const char *what, bool upload)
{
    if (upload) {
        ck_assert_int_eq(gpu->upload(gpu, b->ctx.g, b->ctx.c, sizeof(float) * b->ctx.n), 0);
        ck_assert_int_eq(gpu->upload(gpu, b->lse.g, b->lse.c, sizeof(float) * b->lse.n), 0);
    }
    attn_ref_backward(&b->a, b->qkv.c, b->att, b->w, b->dctx.c, b->datt, b->dqkv.c);
    ck_assert_msg(gpu->attention_backward(gpu, b->qkv.g, b->ctx.g, b->lse.g, b->dctx.g, b->dqkv.g,
                                          &b->a) == 0,
                  "%s", err_msg());
    double e[3];
    for (int part = 0; part < 3; part++)
        e[part] = rel_err_part(gpu, &b->dqkv, b->a.c, part);
    ck_assert_msg(e[0] <= ATTN_TOL_BWD && e[1] <= ATTN_TOL_BWD && e[2] <= ATTN_TOL_BWD,
                  "%s: backward: dq %g, dk %g, dv %g", what, e[0], e[1], e[2]);
}

/* Both passes; with `repeat`, both again into fresh buffers: the same
 * bits. */
static void attn_check_case(attn_case k, const char *what, bool repeat)
{
    attn_bufs b = attn_bufs_new(k);
    attn_check_forward(&b, what);
    attn_check_backward(&b, what, false);
    if (!repeat) {
        attn_bufs_free(&b);
        return;
    }
    pair ctx2 = pair_new(gpu, b.ctx.n, 0, 0, 0), lse2 = pair_new(gpu, b.lse.n, 0, 0, 0);
    pair dqkv2 = pair_new(gpu, b.dqkv.n, 0, 0, 0);
    ck_assert_int_eq(gpu->attention_forward(gpu, b.qkv.g, ctx2.g, lse2.g, &b.a), 0);
    ck_assert_int_eq(gpu->attention_backward(gpu, b.qkv.g, ctx2.g, lse2.g, b.dctx.g, dqkv2.g, &b.a),
                     0);
    ck_assert_msg(same_bits(gpu, b.ctx.g, ctx2.g, b.ctx.n), "%s: ctx not repeated", what);
    ck_assert_msg(same_bits(gpu, b.lse.g, lse2.g, b.lse.n), "%s: lse not repeated", what);
    ck_assert_msg(same_bits(gpu, b.dqkv.g, dqkv2.g, b.dqkv.n), "%s: dqkv not repeated", what);
    pair_free(gpu, &ctx2), pair_free(gpu, &lse2), pair_free(gpu, &dqkv2);
    attn_bufs_free(&b);
}

/* T = 128, heads of 64 (GPT-2's), two rows of two heads, without and with
 * dropout: the forward's tiles of 64 queries and 32 keys and the
 * backward's of 32 x 32, each several times over; bitwise repeated. */
START_TEST(attention_t128)
{
    attn_check_case((attn_case){.rows = 2, .t = 128, .heads = 2, .hd = 64}, "t 128, rate 0", true);
    attn_check_case(
        (attn_case){.rows = 2, .t = 128, .heads = 2, .hd = 64, .rate = 0.1f, .first = 1000003},
        "t 128, rate 0.1", true);
}
END_TEST

/* Every head width the kernels take, 16, 32 and 128 (64 above), at T =
 * 45 (no tile full at its end, the rows of 45 weights not in step with
 * Philox's blocks of four) with dropout, the first index odd too; and
 * sequences of one and two positions (three rows). */
START_TEST(attention_head_widths)
{
    const int widths[] = {16, 32, 128};
    for (int i = 0; i < 3; i++) {
        char what[32];
        snprintf(what, sizeof what, "head width %d", widths[i]);
        attn_check_case(
            (attn_case){.rows = 2, .t = 45, .heads = 2, .hd = widths[i], .rate = 0.1f, .first = 77},
            what, false);
    }
    for (int t = 1; t <= 2; t++)
        attn_check_case((attn_case){.rows = 3, .t = t, .heads = 2, .hd = 16, .rate = 0.1f},
                        t == 1 ? "t 1" : "t 2", false);
}
END_TEST

/* Queries q0 .. q0 + nq - 1 alone into ctx and lse filled with 5: the
 * same bits as those positions of the whole forward (whose extra keys
 * past each query's diagonal add exactly 0 and rescale by exactly 1), and
 * every other position left as it was; lse may be NULL. */
static void attn_check_range(const attn_bufs *b, const float *full, const float *full_lse, int q0,
                             int nq, bool with_lse)
{
    int c = b->a.c, t = b->a.t, heads = b->a.heads;
    pair ctx = pair_new(gpu, b->ctx.n, 5, 5, 0), lse = pair_new(gpu, b->lse.n, 5, 5, 0);
    float *got = malloc(sizeof(float) * b->ctx.n), *got_lse = malloc(sizeof(float) * b->lse.n);
    attn_args a = b->a;
    a.q0 = q0, a.nq = nq;
    ck_assert_msg(gpu->attention_forward(gpu, b->qkv.g, ctx.g, with_lse ? lse.g : NULL, &a) == 0,
                  "%s", err_msg());
    ck_assert_int_eq(gpu->download(gpu, got, ctx.g, sizeof(float) * b->ctx.n), 0);
    ck_assert_int_eq(gpu->download(gpu, got_lse, lse.g, sizeof(float) * b->lse.n), 0);
    for (int i = 0; i < t; i++) {
        bool in = i >= q0 && i < q0 + nq;
        for (int e = 0; e < c; e++)
            ck_assert_msg(got[i * c + e] == (in ? full[i * c + e] : 5.0f),
                          "queries %d + %d: ctx[%d][%d] = %g", q0, nq, i, e, got[i * c + e]);
        for (int h = 0; h < heads; h++)
            ck_assert_msg(got_lse[h * t + i] == (in && with_lse ? full_lse[h * t + i] : 5.0f),
                          "queries %d + %d: lse of head %d, position %d", q0, nq, h, i);
    }
    free(got), free(got_lse);
    pair_free(gpu, &ctx), pair_free(gpu, &lse);
}

/* Generation's step (rows = 1, q0 = pos, nq = 1, as with a key and value
 * cache) at the first, a middle and the last position; a range of 50
 * queries from 37 (tiles not aligned with the whole forward's); lse NULL. */
START_TEST(attention_step)
{
    attn_bufs b = attn_bufs_new((attn_case){.rows = 1, .t = 128, .heads = 2, .hd = 64});
    attn_check_forward(&b, "step's whole forward");
    float *full = malloc(sizeof(float) * b.ctx.n), *full_lse = malloc(sizeof(float) * b.lse.n);
    ck_assert_int_eq(gpu->download(gpu, full, b.ctx.g, sizeof(float) * b.ctx.n), 0);
    ck_assert_int_eq(gpu->download(gpu, full_lse, b.lse.g, sizeof(float) * b.lse.n), 0);
    const int positions[] = {0, 77, 127};
    for (int k = 0; k < 3; k++)
        attn_check_range(&b, full, full_lse, positions[k], 1, true);
    attn_check_range(&b, full, full_lse, 37, 50, true);
    attn_check_range(&b, full, full_lse, 77, 1, false);
    free(full), free(full_lse);
    attn_bufs_free(&b);
}
END_TEST

/* What the kernels cannot do is refused, naming it: a head width without
 * a kernel, queries outside the positions, a backward of some queries. */
START_TEST(attention_refuses)
{
    attn_args a = attn_args_of((attn_case){.rows = 1, .t = 8, .heads = 2, .hd = 24});
    float *buf;
    ck_assert_int_eq(gpu->alloc(gpu, (void **)&buf, sizeof(float) * 8 * 3 * 48), 0);
    ck_assert_int_eq(gpu->attention_forward(gpu, buf, buf, NULL, &a), -1);
    ck_assert_msg(strstr(err_msg(), "heads of 24 features") != NULL, "%s", err_msg());
    a = attn_args_of((attn_case){.rows = 1, .t = 8, .heads = 2, .hd = 16});
    a.q0 = 5, a.nq = 4;
    ck_assert_int_eq(gpu->attention_forward(gpu, buf, buf, NULL, &a), -1);
    ck_assert_msg(strstr(err_msg(), "queries 5 .. 8") != NULL, "%s", err_msg());
    a.q0 = 0, a.nq = 1;
    ck_assert_int_eq(gpu->attention_backward(gpu, buf, buf, buf, buf, buf, &a), -1);
    ck_assert_msg(strstr(err_msg(), "all 8 queries") != NULL, "%s", err_msg());
    gpu->release(gpu, buf);
}
END_TEST

/* GPT-2's attention at T = 1,024, heads of 64, with its dropout of 0.1:
 * one (row, head) of a micro-batch's 96, the forward and, on its own, the
 * backward (from the CPU's ctx and lse), so each has its time under the
 * simulator. */
static const attn_case G2_ATTN = {
    .rows = 1, .t = G2_T, .heads = 1, .hd = 64, .rate = 0.1f, .first = 5 * 1024 * 1024 + 2};

START_TEST(gpt2_attention_forward)
{
    attn_bufs b = attn_bufs_new(G2_ATTN);
    attn_check_forward(&b, "gpt2 forward");
    attn_bufs_free(&b);
}
END_TEST

START_TEST(gpt2_attention_backward)
{
    attn_bufs b = attn_bufs_new(G2_ATTN);
    attn_ref_forward(&b.a, b.qkv.c, b.ctx.c, b.att, b.w);
    attn_ref_lse(&b.a, b.qkv.c, b.lse.c);
    attn_check_backward(&b, "gpt2 backward", true);
    attn_bufs_free(&b);
}
END_TEST

/* One test case a test, so that each can run alone (CK_RUN_CASE=<name>,
 * as the simulator tier runs them, one a ctest) and a failure or a time
 * is its own. Tagged by what it needs: "library" for cuBLAS or cuDNN,
 * which the simulator cannot run; "kernel" for this project's kernels.
 * --list prints them, a name and its tag a line. */
int main(int argc, char **argv)
{
    const struct {
        const char *name;
        const TTest *test;
        const char *tags;
    } cases[] = {
        {"gemm_each_precision", gemm_each_precision, "library"},
        {"gemm_strided_batched_heads", gemm_strided_batched_heads, "library"},
        {"activations", activations, "kernel"},
        {"bias_grad_and_sumsq", bias_grad_and_sumsq, "kernel"},
        {"softmax_cross_entropy", softmax_cross_entropy, "kernel"},
        {"add_and_copy", add_and_copy, "kernel"},
        {"convolutions", convolutions, "library"},
        {"conv_workspace_as_planned", conv_workspace_as_planned, "library"},
        {"poolings", poolings, "library"},
        {"batchnorm_pieces", batchnorm_pieces, "kernel"},
        {"dropout_masks_identical", dropout_masks_identical, "kernel"},
        {"embedding_exact", embedding_exact, "kernel"},
        {"layernorm_rows", layernorm_rows, "kernel"},
        {"adam_step", adam_step, "kernel"},
        {"staged_input_arrives", staged_input_arrives, "kernel"},
        {"sumsq_ranges", sumsq_ranges, "kernel"},
        {"embedding_wide", embedding_wide, "kernel"},
        {"gpt2_layernorm", gpt2_layernorm, "kernel"},
        {"gpt2_bias_grad", gpt2_bias_grad, "kernel"},
        {"gpt2_embedding", gpt2_embedding, "kernel"},
        {"gpt2_adam", gpt2_adam, "kernel"},
        {"gpt2_dropout", gpt2_dropout, "kernel"},
        {"attention_t128", attention_t128, "kernel"},
        {"attention_head_widths", attention_head_widths, "kernel"},
        {"attention_step", attention_step, "kernel"},
        {"attention_refuses", attention_refuses, "kernel"},
        {"gpt2_attention_forward", gpt2_attention_forward, "kernel"},
        {"gpt2_attention_backward", gpt2_attention_backward, "kernel"},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (size_t i = 0; i < n; i++)
            printf("%s %s\n", cases[i].name, cases[i].tags);
        return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
    }
    /* a case asked for by name (CK_RUN_CASE) that is not here would run
     * nothing and pass */
    const char *only = getenv("CK_RUN_CASE");
    bool known = !only;
    for (size_t i = 0; i < n && !known; i++)
        known = !strcmp(only, cases[i].name);
    if (!known) {
        printf("FAILED: CK_RUN_CASE=%s: no such test (--list lists them)\n", only);
        return 1;
    }
    const char *why;
    if (backend_cuda_usable(0, &why) != 1) {
        printf("SKIPPED: no usable GPU: %s\n", why);
        return 77;
    }
    Suite *s = suite_create("gpu_ops");
    for (size_t i = 0; i < n; i++) {
        TCase *tc = tcase_create(cases[i].name);
        tcase_set_tags(tc, cases[i].tags);
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return tu_run(s);
}
