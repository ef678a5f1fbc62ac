/* The CPU backend's threads (kernels/cpu/workers.h): every pass they take
 * gives the same floats on 1, 2 and 3 threads, at sizes that split into
 * several ranges and at sizes too small to split; and the pool runs each
 * item of a pass exactly once, pass after pass. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/workers.h"
#include "testutil.h"

enum { N_THREADS = 3 };
static const int threads[N_THREADS] = {1, 2, 3};

/* inputs, the same for every backend */
static float *input(size_t n, uint64_t seed, float lo, float hi)
{
    float *x = malloc(sizeof(float) * n);
    ck_assert_ptr_nonnull(x);
    tu_fill_uniform(x, n, lo, hi, seed);
    return x;
}

static float *zeros(size_t n)
{
    float *x = calloc(n, sizeof(float));
    ck_assert_ptr_nonnull(x);
    return x;
}

static void assert_same(const float *a, const float *b, size_t n, const char *what, int t)
{
    if (memcmp(a, b, sizeof(float) * n)) {
        size_t i = 0;
        while (a[i] == b[i])
            i++;
        ck_abort_msg("%s: %d threads differ from 1 at %zu: %.9g vs %.9g", what, t, i, b[i], a[i]);
    }
}

/* A pass over rows x cols on backends of 1, 2 and 3 threads: out (outs
 * floats) must be bitwise the same. `run` does the pass on `be`, from the
 * fresh copies of the inputs in `in`, into out. */
typedef void (*pass_fn)(backend *be, float *const *in, float *out, int rows, int cols);

static void check_pass(const char *what, pass_fn run, int n_in, int rows, int cols, size_t outs)
{
    size_t n = (size_t)rows * cols;
    float *orig[4], *in[4], *want = zeros(outs), *got = zeros(outs);
    for (int k = 0; k < n_in; k++) {
        orig[k] = input(n, 11 + k, -2.0f, 2.0f);
        in[k] = malloc(sizeof(float) * n);
    }
    for (int ti = 0; ti < N_THREADS; ti++) {
        backend *be = backend_cpu_open(threads[ti]);
        ck_assert_ptr_nonnull(be);
        for (int k = 0; k < n_in; k++)
            memcpy(in[k], orig[k], sizeof(float) * n);
        float *out = ti == 0 ? want : got;
        memset(out, 0, sizeof(float) * outs);
        run(be, in, out, rows, cols);
        if (ti > 0)
            assert_same(want, got, outs, what, threads[ti]);
        backend_close(be);
    }
    for (int k = 0; k < n_in; k++) {
        free(orig[k]);
        free(in[k]);
    }
    free(want);
    free(got);
}

static void gelu_forward(backend *be, float *const *in, float *out, int rows, int cols)
{
    /* z (in place, with bias) and y */
    ck_assert_int_eq(be->bias_act_forward(be, in[0], out, in[1], rows, cols, 1, ACT_GELU_TANH), 0);
    memcpy(out + (size_t)rows * cols, in[0], sizeof(float) * (size_t)rows * cols);
}

static void relu_planes(backend *be, float *const *in, float *out, int rows, int cols)
{
    /* rows samples of cols / 64 channels of 64 */
    ck_assert_int_eq(be->bias_act_forward(be, in[0], out, in[1], rows, cols / 64, 64, ACT_RELU), 0);
}

static void backward_each(backend *be, float *const *in, float *out, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    for (act_kind a = ACT_NONE; a <= ACT_GELU_TANH; a++) {
        ck_assert_int_eq(be->act_backward(be, out, in[0], in[1], in[2], n, a), 0);
        in[0][0] += 1e-3f * out[n / 2]; /* every act's result feeds the next check */
    }
    ck_assert_int_eq(be->add(be, out + n, in[0], out, n), 0);
}

static void layernorm(backend *be, float *const *in, float *out, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    float *y = out, *mean = out + n, *rstd = mean + rows, *dx = rstd + rows, *dg = dx + n,
          *db = dg + cols;
    ck_assert_int_eq(
        be->layernorm_forward(be, in[0], in[1], in[2], y, mean, rstd, rows, cols, 1e-5f), 0);
    ck_assert_int_eq(
        be->layernorm_backward(be, in[3], in[0], in[1], mean, rstd, dx, dg, db, rows, cols), 0);
    /* without dx: the gradients of gain and bias alone */
    ck_assert_int_eq(be->layernorm_backward(be, in[3], in[0], in[1], mean, rstd, NULL,
                                            dg + 2 * cols, db + 2 * cols, rows, cols),
                     0);
}

static void dropout(backend *be, float *const *in, float *out, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    ck_assert_int_eq(be->dropout_forward(be, out, in[0], n, 0.1f, 42, 3, 7, 1001), 0);
    ck_assert_int_eq(be->dropout_backward(be, out + n, in[1], n, 0.1f, 42, 3, 7, 1001), 0);
}

static void bias_grads(backend *be, float *const *in, float *out, int rows, int cols)
{
    ck_assert_int_eq(be->bias_grad(be, out, in[0], rows, cols, 1), 0);
    ck_assert_int_eq(be->bias_grad(be, out + cols, in[0], rows, cols / 16, 16), 0);
}

static void adam(backend *be, float *const *in, float *out, int rows, int cols)
{
    size_t n = (size_t)rows * cols;
    adam_hyper h = {.lr = 1e-3f,
                    .beta1 = 0.9f,
                    .beta2 = 0.95f,
                    .eps = 1e-8f,
                    .one_minus_beta1 = 0.1f,
                    .one_minus_beta2 = 0.05f,
                    .weight_decay = 0.1f,
                    .grad_scale = 0.5f,
                    .bias_corr1 = 0.1f,
                    .bias_corr2_sqrt = 0.2f};
    for (size_t i = 0; i < n; i++)
        in[2][i] = in[2][i] * in[2][i]; /* v >= 0 */
    ck_assert_int_eq(be->adam(be, in[0], in[1], in[3], in[2], n, &h), 0);
    memcpy(out, in[0], sizeof(float) * n);
    memcpy(out + n, in[3], sizeof(float) * n);
    memcpy(out + 2 * n, in[2], sizeof(float) * n);
}

static void xent(backend *be, float *const *in, float *out, int rows, int cols)
{
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)rows);
    for (int r = 0; r < rows; r++)
        labels[r] = (r * 7) % cols;
    size_t n = (size_t)rows * cols;
    ck_assert_int_eq(be->xent(be, in[0], labels, rows, cols, 0.5f, out, out + n), 0);
    free(labels);
}

/* rows samples of cols / 64 channels of 8 x 8: max 2x2 and 3x3 average
 * pooling with padding, forward and backward */
static void pooling(backend *be, float *const *in, float *out, int rows, int cols)
{
    pool_geom geoms[2] = {
        {.c = cols / 64,
         .in_h = 8,
         .in_w = 8,
         .out_h = 4,
         .out_w = 4,
         .k_h = 2,
         .k_w = 2,
         .stride = 2,
         .max = true},
        {.c = cols / 64,
         .in_h = 8,
         .in_w = 8,
         .out_h = 8,
         .out_w = 8,
         .k_h = 3,
         .k_w = 3,
         .stride = 1,
         .pad = 1},
    };
    size_t n = (size_t)rows * cols;
    for (int k = 0; k < 2; k++) {
        void *plan;
        ck_assert_int_eq(be->pool_plan(be, &geoms[k], rows, &plan), 0);
        float *y = out + 2 * k * n, *dx = y + n;
        ck_assert_int_eq(be->pool_forward(be, plan, in[0], y, rows), 0);
        ck_assert_int_eq(be->pool_backward(be, plan, in[0], y, in[1], dx, rows), 0);
        be->plan_release(be, plan);
    }
}

/* rows samples of cols / 16 channels of 16: the sums (doubles, compared
 * as floats' bits, in pairs), the forward with ReLU, the backward */
static void batchnorm(backend *be, float *const *in, float *out, int rows, int cols)
{
    int ch = cols / 16;
    size_t n = (size_t)rows * cols;
    double *sums = (double *)(out + 3 * n);
    ck_assert_int_eq(be->channel_sums(be, in[0], in[1], rows, ch, 16, sums), 0);
    /* per-channel parameters from the inputs' first floats */
    const float *mean = in[2], *invstd = in[3], *gamma = in[2] + ch, *beta = in[3] + ch;
    ck_assert_int_eq(be->bn_forward(be, in[0], out, out + n, out + 2 * n, mean, invstd, gamma, beta,
                                    rows, ch, 16, ACT_RELU),
                     0);
    ck_assert_int_eq(
        be->bn_backward(be, in[1], out, in[0], gamma, invstd, mean, beta, rows, ch, 16), 0);
    memcpy(out + n, in[0], sizeof(float) * n); /* dx over z: z is checked by y */
}

/* big enough for several ranges of 128K floats, and small enough for none */
START_TEST(passes_are_the_same_on_any_number_of_threads)
{
    static const int shapes[][2] = {{2048, 256}, {3, 64}};
    for (int s = 0; s < 2; s++) {
        int r = shapes[s][0], c = shapes[s][1];
        size_t n = (size_t)r * c;
        check_pass("bias + gelu_tanh rows", gelu_forward, 2, r, c, 2 * n);
        check_pass("bias + relu planes", relu_planes, 2, r, c, n);
        check_pass("activation backward, add", backward_each, 3, r, c, 2 * n);
        check_pass("layer norm", layernorm, 4, r, c, 2 * n + 2 * (size_t)r + 6 * (size_t)c);
        check_pass("dropout", dropout, 2, r, c, 2 * n);
        check_pass("bias gradients", bias_grads, 1, r, c, (size_t)c + (size_t)c / 16);
        check_pass("adam", adam, 4, r, c, 3 * n);
        check_pass("cross-entropy", xent, 1, r, c, n + 2 * (size_t)r);
        check_pass("pooling", pooling, 2, r, c, 4 * n);
        check_pass("batch norm", batchnorm, 4, r, c, 3 * n + 4 * (size_t)c / 16);
    }
}
END_TEST

/* Products shared out by rows of C (1024 x 300) and by columns (200 x
 * 2048), in every transpose: every element written (C starts as NaN, beta
 * 0) and each within 1e-5 of the one-thread product (OpenBLAS may take
 * another kernel for a smaller product; seen equal here all the same);
 * a strided batch, each product whole on one thread, bitwise. */
START_TEST(products_shared_out_cover_c)
{
    static const int shapes[][3] = {{1024, 300, 100}, {200, 2048, 200}};
    for (int s = 0; s < 2; s++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
            float *a = input((size_t)m * k, 5, -1.0f, 1.0f),
                  *b = input((size_t)k * n, 6, -1.0f, 1.0f);
            float *want = zeros((size_t)m * n), *got = zeros((size_t)m * n);
            for (int ti = 0; ti < N_THREADS; ti++) {
                backend *be = backend_cpu_open(threads[ti]);
                float *c = ti == 0 ? want : got;
                for (size_t i = 0; i < (size_t)m * n; i++)
                    c[i] = NAN;
                ck_assert_int_eq(
                    be->gemm(be, ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n),
                    0);
                for (size_t i = 0; ti > 0 && i < (size_t)m * n; i++)
                    if (!(fabsf(got[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i]))))
                        ck_abort_msg("%d x %d x %d, ta %d tb %d, %d threads: C[%zu] = %g, not %g",
                                     m, n, k, ta, tb, threads[ti], i, got[i], want[i]);
                backend_close(be);
            }
            free(a);
            free(b);
            free(want);
            free(got);
        }
    /* 64 products of 64 x 64 x 128 (0.5 M multiply-adds each) */
    enum { B = 64, M = 64, K = 128 };
    float *a = input((size_t)B * M * K, 7, -1.0f, 1.0f),
          *b = input((size_t)B * K * M, 8, -1.0f, 1.0f);
    float *want = zeros((size_t)B * M * M), *got = zeros((size_t)B * M * M);
    for (int ti = 0; ti < N_THREADS; ti++) {
        backend *be = backend_cpu_open(threads[ti]);
        ck_assert_int_eq(be->gemm_strided_batched(be, false, false, M, M, K, 1.0f, a, K, M * K, b,
                                                  M, K * M, 0.0f, ti ? got : want, M, M * M, B),
                         0);
        if (ti > 0)
            assert_same(want, got, (size_t)B * M * M, "strided batch", threads[ti]);
        backend_close(be);
    }
    free(a);
    free(b);
    free(want);
    free(got);
}
END_TEST

/* Each item once, in ranges that tile [0, n), over many passes. */
static void count_part(void *arg, size_t from, size_t to)
{
    int *seen = arg;
    for (size_t i = from; i < to; i++)
        seen[i]++;
}

START_TEST(pool_covers_every_item_once)
{
    enum { N = 100003, PASSES = 200 };
    int *seen = calloc(N, sizeof(int));
    for (int t = 1; t <= 4; t++) {
        cpu_workers *w = cpu_workers_open(t);
        ck_assert_ptr_nonnull(w);
        memset(seen, 0, sizeof(int) * N);
        for (int p = 0; p < PASSES; p++)
            cpu_workers_run(w, N - (size_t)p, 1000, count_part, seen);
        for (size_t i = 0; i < N; i++) {
            int want = (int)(i < N - PASSES + 1 ? PASSES : (size_t)N - i);
            if (seen[i] != want)
                ck_abort_msg("%d threads: item %zu done %d times, not %d", t, i, seen[i], want);
        }
        cpu_workers_close(w);
    }
    cpu_workers_run(NULL, 5, 1, count_part, seen); /* no pool: the caller does it */
    free(seen);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cpu_threads");
    TCase *tc = tcase_create("cpu_threads");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, passes_are_the_same_on_any_number_of_threads);
    tcase_add_test(tc, products_shared_out_cover_c);
    tcase_add_test(tc, pool_covers_every_item_once);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
