/* test_flash_attention: the CPU backend's fused causal attention
 * (attention_forward, attention_backward) against the unfused path built
 * here from the backend's own operations, as trainer/layer_attention.c
 * ran it before: per head the products q k^T (gemm_strided_batched),
 * the causal softmax (testutil's, in double), dropout_forward on the
 * weights, their product with v; backward through dropout_backward and
 * the softmax's backward. The
 * reference's lse is log sum exp of the scaled scores, in double.
 *
 * Tolerances are relative to the reference's scale (its largest
 * magnitude): 2e-6 for ctx, dq, dk and dv, 1e-6 for lse (float32 sums of
 * up to 130 terms in another order; measured worst: see each check).
 * Then: a subset of queries (q0, nq: generation's step) gives the rows
 * of the whole forward; 1, 2 and 3 threads, two runs, and the products
 * as a CPU without AVX2 computes them give the same bits; bad shapes are
 * refused with one line. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_ops.h"
#include "testutil.h"
#include "util/err.h"

static backend *be;

static void setup(void)
{
    be = backend_cpu_open(1);
    ck_assert_ptr_nonnull(be);
}

static void teardown(void)
{
    backend_close(be);
    be = NULL;
}

static float *uniform(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc(sizeof(float) * (n ? n : 1));
    ck_assert_ptr_nonnull(x);
    tu_fill_uniform(x, n, lo, hi, seed);
    return x;
}

static float *filled(size_t n, float v)
{
    float *x = malloc(sizeof(float) * (n ? n : 1));
    ck_assert_ptr_nonnull(x);
    for (size_t i = 0; i < n; i++)
        x[i] = v;
    return x;
}

static attn_args args_of(int rows, int t, int c, int heads, float rate)
{
    return (attn_args){.rows = rows,
                       .t = t,
                       .c = c,
                       .heads = heads,
                       .q0 = 0,
                       .nq = t,
                       .scale = (float)(1.0 / sqrt((double)(c / heads))),
                       .rate = rate,
                       .seed = 77,
                       .first = 1000,
                       .layer = 3,
                       .step = 5};
}

/* ---- the unfused reference ------------------------------------------------ */

/* The reference's buffers for one shape: weights (rows, heads, t, t),
 * dropped, their gradient. */
typedef struct {
    float *att, *dropped, *datt;
} unfused;

/* C(r, h) = op(A(r, h)) op(B(r, h)) for every row and head: one batched
 * call per row, the heads its batch (operands in place through ld). */
static void heads_gemm(const attn_args *a, bool ta, bool tb, int m, int n, int k, const float *pa,
                       int lda, long long a_row, long long a_head, const float *pb, int ldb,
                       long long b_row, long long b_head, float *pc, int ldc, long long c_row,
                       long long c_head)
{
    for (int r = 0; r < a->rows; r++)
        ck_assert_int_eq(be->gemm_strided_batched(be, ta, tb, m, n, k, 1.0f, pa + r * a_row, lda,
                                                  a_head, pb + r * b_row, ldb, b_head, 0.0f,
                                                  pc + r * c_row, ldc, c_head, a->heads),
                         0);
}

static void ref_forward(const attn_args *a, const float *qkv, float *ctx, float *lse, unfused *u)
{
    int t = a->t, c = a->c, hd = c / a->heads, c3 = 3 * c;
    long long sq = (long long)t * t, row = (long long)t * c3;
    size_t all = (size_t)a->rows * a->heads * sq;
    u->att = malloc(sizeof(float) * all);
    u->dropped = malloc(sizeof(float) * all);
    u->datt = malloc(sizeof(float) * all);
    heads_gemm(a, false, true, t, t, hd, qkv, c3, row, hd, qkv + c, c3, row, hd, u->att, t,
               a->heads * sq, sq);
    /* lse from the raw scores, in double */
    for (size_t m = 0; m < (size_t)a->rows * a->heads * t; m++) {
        const float *s = u->att + m * t;
        int i = (int)(m % (size_t)t);
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j <= i; j++)
            mx = fmax(mx, (double)a->scale * s[j]);
        for (int j = 0; j <= i; j++)
            sum += exp((double)a->scale * s[j] - mx);
        lse[m] = (float)(mx + log(sum));
    }
    tu_causal_softmax(u->att, a->rows * a->heads, t, a->scale);
    ck_assert_int_eq(be->dropout_forward(be, u->dropped, u->att, all, a->rate, a->seed, a->layer,
                                         a->step, a->first),
                     0);
    heads_gemm(a, false, false, t, hd, t, u->dropped, t, a->heads * sq, sq, qkv + 2 * c, c3, row,
               hd, ctx, c, (long long)t * c, hd);
}

static void ref_backward(const attn_args *a, const float *qkv, const float *dctx, float *dqkv,
                         unfused *u)
{
    int t = a->t, c = a->c, hd = c / a->heads, c3 = 3 * c;
    long long sq = (long long)t * t, row = (long long)t * c3, crow = (long long)t * c;
    size_t all = (size_t)a->rows * a->heads * sq;
    heads_gemm(a, false, true, t, t, hd, dctx, c, crow, hd, qkv + 2 * c, c3, row, hd, u->datt, t,
               a->heads * sq, sq);
    heads_gemm(a, true, false, t, hd, t, u->dropped, t, a->heads * sq, sq, dctx, c, crow, hd,
               dqkv + 2 * c, c3, row, hd);
    ck_assert_int_eq(be->dropout_backward(be, u->datt, u->datt, all, a->rate, a->seed, a->layer,
                                          a->step, a->first),
                     0);
    tu_causal_softmax_backward(u->datt, u->att, a->rows * a->heads, t, a->scale);
    heads_gemm(a, false, false, t, hd, t, u->datt, t, a->heads * sq, sq, qkv + c, c3, row, hd, dqkv,
               c3, row, hd);
    heads_gemm(a, true, false, t, hd, t, u->datt, t, a->heads * sq, sq, qkv, c3, row, hd, dqkv + c,
               c3, row, hd);
    free(u->att), free(u->dropped), free(u->datt);
}

/* ---- comparisons ---------------------------------------------------------- */

/* The largest |got - want| over n, as a fraction of want's largest
 * magnitude, over elements [off, off + len) of every `stride` (a part of
 * qkv's rows), or all of them (stride 0). */
static double rel_err(const float *got, const float *want, size_t n, size_t stride, size_t off,
                      size_t len)
{
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        size_t k = stride ? i % stride : 0;
        if (stride && (k < off || k >= off + len))
            continue;
        scale = fmax(scale, fabs((double)want[i]));
        double e = fabs((double)got[i] - want[i]);
        worst = isnan(e) ? INFINITY : fmax(worst, e);
    }
    return scale > 0 ? worst / scale : worst;
}

/* The worst relative errors seen, for the record (printed at the end). */
static double seen[5];

static void check_shape(int rows, int t, int hd, int heads, float rate)
{
    attn_args a = args_of(rows, t, hd * heads, heads, rate);
    int c = a.c;
    size_t n = (size_t)rows * t, nl = n * heads;
    float *qkv = uniform(n * 3 * c, -2.0f, 2.0f, 1 + (uint64_t)t);
    float *dctx = uniform(n * c, -1.0f, 1.0f, 2 + (uint64_t)t);
    float *ctx = filled(n * c, NAN), *lse = filled(nl, NAN), *dqkv = filled(n * 3 * c, NAN);
    float *ctx_ref = malloc(sizeof(float) * n * c), *lse_ref = malloc(sizeof(float) * nl);
    float *dqkv_ref = filled(n * 3 * c, 0.0f);
    unfused u;
    ref_forward(&a, qkv, ctx_ref, lse_ref, &u);
    ref_backward(&a, qkv, dctx, dqkv_ref, &u);
    ck_assert_msg(be->attention_forward(be, qkv, ctx, lse, &a) == 0, "%s", err_msg());
    ck_assert_msg(be->attention_backward(be, qkv, ctx, lse, dctx, dqkv, &a) == 0, "%s", err_msg());
    size_t c3 = 3 * (size_t)c;
    double e[5] = {rel_err(ctx, ctx_ref, n * c, 0, 0, 0), rel_err(lse, lse_ref, nl, 0, 0, 0),
                   rel_err(dqkv, dqkv_ref, n * c3, c3, 0, (size_t)c),
                   rel_err(dqkv, dqkv_ref, n * c3, c3, (size_t)c, (size_t)c),
                   rel_err(dqkv, dqkv_ref, n * c3, c3, 2 * (size_t)c, (size_t)c)};
    static const char *names[5] = {"ctx", "lse", "dq", "dk", "dv"};
    static const double tol[5] = {2e-6, 1e-6, 2e-6, 2e-6, 2e-6};
    for (int k = 0; k < 5; k++) {
        seen[k] = fmax(seen[k], e[k]);
        ck_assert_msg(e[k] <= tol[k], "%s: rows %d, t %d, %d heads of %d, dropout %g: error %g",
                      names[k], rows, t, heads, hd, (double)rate, e[k]);
    }
    free(qkv), free(dctx), free(ctx), free(lse), free(dqkv), free(ctx_ref), free(lse_ref);
    free(dqkv_ref);
}

START_TEST(matches_unfused)
{
    static const int ts[] = {1, 7, 64, 130}, hds[] = {16, 32, 64};
    static const float rates[] = {0.0f, 0.1f};
    for (int ti = 0; ti < 4; ti++)
        for (int hi = 0; hi < 3; hi++)
            for (int ri = 0; ri < 2; ri++)
                check_shape(ti % 2 ? 3 : 2, ts[ti], hds[hi], hi == 2 ? 2 : 3, rates[ri]);
    /* a head width that is not a multiple of 16 (the tiles pad it) */
    check_shape(2, 70, 24, 2, 0.1f);
    printf("flash attention against unfused, worst relative errors: ctx %.2g, lse %.2g, dq %.2g, "
           "dk %.2g, dv %.2g\n",
           seen[0], seen[1], seen[2], seen[3], seen[4]);
}
END_TEST

/* Generation's step (one query, q0 = pos) and any other run of queries:
 * the rows of the whole forward, to the bit, and nothing else written;
 * what qkv holds after the last query (NaN here) is never read. */
START_TEST(query_subsets_are_the_whole_forward)
{
    const int rows = 2, t = 130, heads = 3, hd = 32, c = heads * hd;
    attn_args a = args_of(rows, t, c, heads, 0.0f);
    size_t n = (size_t)rows * t;
    float *qkv = uniform(n * 3 * c, -2.0f, 2.0f, 9);
    float *ctx = filled(n * c, 0.0f), *lse = filled(n * heads, 0.0f);
    ck_assert_int_eq(be->attention_forward(be, qkv, ctx, lse, &a), 0);
    static const int spans[][2] = {{0, 1}, {5, 1}, {63, 1}, {64, 1}, {129, 1}, {5, 60}, {60, 70}};
    for (size_t s = 0; s < sizeof spans / sizeof spans[0]; s++) {
        attn_args b = a;
        b.q0 = spans[s][0], b.nq = spans[s][1];
        float *part = filled(n * c, -7.0f), *plse = filled(n * heads, -7.0f);
        float *cut = malloc(sizeof(float) * n * 3 * c);
        for (size_t i = 0; i < n * 3 * c; i++)
            cut[i] = (int)(i / (3 * c) % t) < b.q0 + b.nq ? qkv[i] : NAN;
        ck_assert_int_eq(be->attention_forward(be, cut, part, plse, &b), 0);
        for (size_t i = 0; i < n * c; i++) {
            int pos = (int)(i / c % t);
            bool in = pos >= b.q0 && pos < b.q0 + b.nq;
            ck_assert_msg(part[i] == (in ? ctx[i] : -7.0f), "queries %d + %d: ctx[%zu] %.9g, %.9g",
                          b.q0, b.nq, i, part[i], ctx[i]);
        }
        for (size_t i = 0; i < n * heads; i++) {
            int pos = (int)(i % t);
            bool in = pos >= b.q0 && pos < b.q0 + b.nq;
            ck_assert_float_eq(plse[i], in ? lse[i] : -7.0f);
        }
        /* lse may be NULL */
        ck_assert_int_eq(be->attention_forward(be, cut, part, NULL, &b), 0);
        free(part), free(plse), free(cut);
    }
    free(qkv), free(ctx), free(lse);
}
END_TEST

/* forward and backward of one shape on backend b, outputs into out
 * (ctx, lse, dqkv one after the other) */
static void run_on(backend *b, const attn_args *a, const float *qkv, const float *dctx, float *out)
{
    size_t n = (size_t)a->rows * a->t;
    float *ctx = out, *lse = ctx + n * a->c, *dqkv = lse + n * a->heads;
    ck_assert_int_eq(b->attention_forward(b, qkv, ctx, lse, a), 0);
    ck_assert_int_eq(b->attention_backward(b, qkv, ctx, lse, dctx, dqkv, a), 0);
}

START_TEST(same_bits_any_threads_and_width)
{
    static const int threads[] = {1, 2, 3, 1, 1};
    const int rows = 3, t = 130, heads = 4, hd = 64, c = heads * hd;
    attn_args a = args_of(rows, t, c, heads, 0.1f);
    size_t n = (size_t)rows * t, outs = n * c + n * heads + n * 3 * c;
    float *qkv = uniform(n * 3 * c, -2.0f, 2.0f, 31), *dctx = uniform(n * c, -1.0f, 1.0f, 32);
    float *want = filled(outs, 0.0f), *got = filled(outs, 0.0f);
    for (int k = 0; k < 5; k++) {
        backend *b = backend_cpu_open(threads[k]);
        ck_assert_ptr_nonnull(b);
        /* the last: the products as without AVX2 */
        ((cpu_impl *)b->impl)->attn_baseline = k == 4;
        run_on(b, &a, qkv, dctx, k == 0 ? want : got);
        if (k > 0)
            ck_assert_msg(memcmp(want, got, sizeof(float) * outs) == 0,
                          "run %d (%d threads%s) differs from the first", k, threads[k],
                          k == 4 ? ", without AVX2" : "");
        backend_close(b);
    }
    free(qkv), free(dctx), free(want), free(got);
}
END_TEST

static void refused(const attn_args *a, bool backward, const char *what)
{
    float x[1] = {0};
    int rc = backward ? be->attention_backward(be, x, x, x, x, x, a)
                      : be->attention_forward(be, x, x, x, a);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err_msg(), what) != NULL, "'%s' not in '%s'", what, err_msg());
}

START_TEST(bad_shapes_refused)
{
    attn_args a = args_of(1, 8, 12, 5, 0.0f);
    refused(&a, false,
            "attention_forward: no such attention: 1 rows of 8 positions, 12 features "
            "in 5 heads");
    a = args_of(1, 8, 12, 3, 0.0f);
    a.q0 = 4, a.nq = 5;
    refused(&a, false, "queries 4 .. 8");
    a = args_of(1, 8, 12, 3, 1.0f);
    refused(&a, true, "attention_backward: no such attention");
    a = args_of(1, 8, 12, 3, 0.0f);
    a.q0 = 7, a.nq = 1;
    refused(&a, true, "it takes all 8 queries (asked 7 .. 7)");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("flash_attention");
    TCase *tc = tcase_create("cpu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, matches_unfused);
    tcase_add_test(tc, query_subsets_are_the_whole_forward);
    tcase_add_test(tc, same_bits_any_threads_and_width);
    tcase_add_test(tc, bad_shapes_refused);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
