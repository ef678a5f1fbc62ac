/* test_kernels: every operation of the CPU backend against a naive reference
 * computed here (in double where it matters), plus the Philox generator
 * against its published known-answer vectors.
 *
 * The elementwise formulas live in kernels/math.h and are shared with the
 * CUDA kernels, so these checks cover the arithmetic both backends run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/backend.h"
#include "kernels/math.h"
#include "testutil.h"
#include "util/rng.h"

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

/* ---- backend memory helpers ---------------------------------------------- */

static float *dev_alloc(size_t n)
{
    void *p = NULL;
    ck_assert_int_eq(be->alloc(be, &p, sizeof(float) * n), 0);
    return p;
}

static float *dev_from(const float *host, size_t n)
{
    float *d = dev_alloc(n);
    ck_assert_int_eq(be->upload(be, d, host, sizeof(float) * n), 0);
    return d;
}

static void to_host(float *host, const float *d, size_t n)
{
    ck_assert_int_eq(be->download(be, host, d, sizeof(float) * n), 0);
}

static float *host_uniform(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc(sizeof(float) * (n ? n : 1));
    ck_assert_ptr_nonnull(x);
    tu_fill_uniform(x, n, lo, hi, seed);
    return x;
}

/* ---- gemm ---------------------------------------------------------------- */

/* Element (i, j) of op(X) for a row-major X with leading dimension ld. */
static double op_at(const float *x, int ld, bool trans, int i, int j)
{
    return trans ? x[(size_t)j * ld + i] : x[(size_t)i * ld + j];
}

/* One gemm case: op(A) m x k, op(B) k x n, every leading dimension padded by
 * `pad`, so a kernel that assumes tight packing reads the wrong elements.
 * The padding columns of C must come back untouched. */
static void check_gemm(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad)
{
    int a_rows = ta ? k : m, a_cols = ta ? m : k;
    int b_rows = tb ? n : k, b_cols = tb ? k : n;
    int lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
    size_t na = (size_t)a_rows * lda, nb = (size_t)b_rows * ldb, nc = (size_t)m * ldc;
    float *a = host_uniform(na, -1, 1, 11), *b = host_uniform(nb, -1, 1, 12);
    float *c0 = host_uniform(nc, -1, 1, 13), *c = malloc(sizeof(float) * nc);
    float *ref = malloc(sizeof(float) * nc);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(ref);

    memcpy(ref, c0, sizeof(float) * nc); /* padding stays as it was */
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0.0;
            for (int p = 0; p < k; p++)
                s += op_at(a, lda, ta, i, p) * op_at(b, ldb, tb, p, j);
            double prior = beta == 0.0f ? 0.0 : (double)beta * c0[(size_t)i * ldc + j];
            ref[(size_t)i * ldc + j] = (float)(alpha * s + prior);
        }

    float *da = dev_from(a, na), *db = dev_from(b, nb), *dc = dev_from(c0, nc);
    ck_assert_int_eq(be->gemm(be, ta, tb, m, n, k, alpha, da, lda, db, ldb, beta, dc, ldc), 0);
    to_host(c, dc, nc);
    double err = tu_max_err(c, ref, nc, 1e-5);
    ck_assert_msg(err <= 1e-5, "gemm ta=%d tb=%d alpha=%g beta=%g: error %g", ta, tb, alpha, beta,
                  err);
    be->release(be, da);
    be->release(be, db);
    be->release(be, dc);
    free(a), free(b), free(c0), free(c), free(ref);
}

START_TEST(gemm_all_transposes)
{
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        check_gemm(ta, tb, 5, 7, 11, 0.7f, -0.3f, 3);
        check_gemm(ta, tb, 5, 7, 11, 1.0f, 0.0f, 2); /* C's old values ignored */
        check_gemm(ta, tb, 9, 2, 4, -1.5f, 1.0f, 1);
        check_gemm(ta, tb, 1, 13, 6, 2.0f, 0.5f, 0); /* tight packing, one row */
    }
}
END_TEST

/* ---- reduced precision (train.precision) ---------------------------------- */

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t to_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Rounding to nearest with ties to even, at bf16's 7 and TF32's 10 fraction
 * bits; overflow to infinity; infinities, NaNs and signed zeros kept. */
START_TEST(round_mantissa_nearest_even)
{
    const float one = 1.0f;
    ck_assert_float_eq(math_round_mantissa(one, 7), one);
    /* halfway between 1 and 1 + 2^-7: to the even 1 */
    ck_assert_float_eq(math_round_mantissa(1.0f + 0x1p-8f, 7), 1.0f);
    /* halfway between 1 + 2^-7 and 1 + 2^-6: to the even 1 + 2^-6 */
    ck_assert_float_eq(math_round_mantissa(1.0f + 3 * 0x1p-8f, 7), 1.0f + 0x1p-6f);
    /* just above halfway: up */
    ck_assert_float_eq(math_round_mantissa(1.0f + 0x1p-8f + 0x1p-20f, 7), 1.0f + 0x1p-7f);
    ck_assert_float_eq(math_round_mantissa(-(1.0f + 0x1p-8f + 0x1p-20f), 7), -(1.0f + 0x1p-7f));
    ck_assert_float_eq(math_round_mantissa(1.0f + 0x1p-11f, 10), 1.0f);
    ck_assert_float_eq(math_round_mantissa(1.0f + 0x1p-11f + 0x1p-20f, 10), 1.0f + 0x1p-10f);
    ck_assert_float_eq(math_round_mantissa(1.0f + 0x1p-11f + 0x1p-20f, 23),
                       1.0f + 0x1p-11f + 0x1p-20f);
    /* a carry into the exponent */
    ck_assert_float_eq(math_round_mantissa(from_bits(0x3fffffffu), 7), 2.0f);
    ck_assert(isinf(math_round_mantissa(from_bits(0x7f7fffffu), 7))); /* FLT_MAX */
    ck_assert(isinf(math_round_mantissa(INFINITY, 7)));
    ck_assert(isnan(math_round_mantissa(from_bits(0x7f800001u), 7))); /* payload below the cut */
    ck_assert(isnan(math_round_mantissa(NAN, 10)));
    ck_assert_uint_eq(to_bits(math_round_mantissa(-0.0f, 7)), 0x80000000u);
    /* subnormals round like the rest */
    ck_assert_uint_eq(to_bits(math_round_mantissa(from_bits(0x00008001u), 7)), 0x00010000u);
}
END_TEST

/* At tf32 and bf16 the CPU's product is, bitwise, the float32 product of
 * the inputs rounded (math_round_mantissa), whatever the transposes and
 * leading dimensions; and not the float32 product of the inputs as they
 * are. */
START_TEST(gemm_reduced_precision_rounds_inputs)
{
    const int m = 9, n = 13, k = 21, pad = 3;
    for (int p = PRECISION_TF32; p <= PRECISION_BF16; p++)
        for (int t = 0; t < 4; t++) {
            bool ta = t & 1, tb = t & 2;
            int a_rows = ta ? k : m, a_cols = ta ? m : k, b_rows = tb ? n : k, b_cols = tb ? k : n;
            int lda = a_cols + pad, ldb = b_cols + pad;
            size_t na = (size_t)a_rows * lda, nb = (size_t)b_rows * ldb, nc = (size_t)m * n;
            float *a = host_uniform(na, -1, 1, 31), *b = host_uniform(nb, -1, 1, 32);
            float *ra = malloc(sizeof(float) * na), *rb = malloc(sizeof(float) * nb);
            for (size_t i = 0; i < na; i++)
                ra[i] = math_round_mantissa(a[i], precision_bits((precision_kind)p));
            for (size_t i = 0; i < nb; i++)
                rb[i] = math_round_mantissa(b[i], precision_bits((precision_kind)p));
            float *da = dev_from(a, na), *db = dev_from(b, nb), *dra = dev_from(ra, na);
            float *drb = dev_from(rb, nb), *c = dev_alloc(nc), *ref = dev_alloc(nc);
            float *plain = dev_alloc(nc);
            be->precision = (precision_kind)p;
            ck_assert_int_eq(be->gemm(be, ta, tb, m, n, k, 0.5f, da, lda, db, ldb, 0, c, n), 0);
            be->precision = PRECISION_FP32;
            ck_assert_int_eq(be->gemm(be, ta, tb, m, n, k, 0.5f, dra, lda, drb, ldb, 0, ref, n), 0);
            ck_assert_int_eq(be->gemm(be, ta, tb, m, n, k, 0.5f, da, lda, db, ldb, 0, plain, n), 0);
            ck_assert_msg(memcmp(c, ref, sizeof(float) * nc) == 0,
                          "precision %d ta=%d tb=%d: not the product of the rounded inputs", p, ta,
                          tb);
            ck_assert_msg(memcmp(c, plain, sizeof(float) * nc) != 0,
                          "precision %d ta=%d tb=%d: the float32 product", p, ta, tb);
            be->release(be, da), be->release(be, db), be->release(be, dra), be->release(be, drb);
            be->release(be, c), be->release(be, ref), be->release(be, plain);
            free(a), free(b), free(ra), free(rb);
        }
}
END_TEST

/* A convolution at bf16 is the convolution at TF32 (precision_of_conv:
 * what cuDNN offers for float32 tensors), forward and backward; at TF32 it
 * is not the float32 one. */
START_TEST(conv_bf16_runs_at_tf32)
{
    conv_geom g = {.in_c = 3, .in_h = 8, .in_w = 8, .out_c = 4, .k = 3, .stride = 1, .pad = 1};
    g.out_h = g.out_w = 8;
    const int rows = 2;
    size_t nx = (size_t)rows * 3 * 64, nw = 4 * 3 * 9, ny = (size_t)rows * 4 * 64;
    float *x = host_uniform(nx, -1, 1, 41), *w = host_uniform(nw, -1, 1, 42);
    float *dy = host_uniform(ny, -1, 1, 43);
    float *out[3][3]; /* per precision: y, dw, dx */
    for (int p = PRECISION_FP32; p <= PRECISION_BF16; p++) {
        void *plan;
        be->precision = (precision_kind)p;
        ck_assert_int_eq(be->conv_plan(be, &g, rows, rows, &plan), 0);
        out[p][0] = dev_alloc(ny), out[p][1] = dev_alloc(nw), out[p][2] = dev_alloc(nx);
        ck_assert_int_eq(be->conv_forward(be, plan, x, w, out[p][0], rows), 0);
        ck_assert_int_eq(be->conv_backward(be, plan, x, w, dy, out[p][1], out[p][2], rows), 0);
        be->plan_release(be, plan);
    }
    be->precision = PRECISION_FP32;
    size_t sizes[3] = {ny, nw, nx};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(
            memcmp(out[PRECISION_BF16][i], out[PRECISION_TF32][i], sizeof(float) * sizes[i]), 0);
        ck_assert_int_ne(
            memcmp(out[PRECISION_TF32][i], out[PRECISION_FP32][i], sizeof(float) * sizes[i]), 0);
    }
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 3; i++)
            be->release(be, out[p][i]);
    free(x), free(w), free(dy);
}
END_TEST

/* gemm_strided_batched is gemm on each product, bitwise: here over
 * interleaved operands as attention's heads are (each product's A and B
 * columns side by side in wider rows, C's likewise). */
START_TEST(gemm_strided_batched_is_gemm_each)
{
    const int batch = 3, m = 6, n = 5, k = 4, ld = 3 * 8, ldc = 3 * 5;
    size_t na = (size_t)8 * ld, nc = (size_t)8 * ldc;
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        float *a = host_uniform(na, -1, 1, 21), *b = host_uniform(na, -1, 1, 22);
        float *c0 = host_uniform(nc, -1, 1, 23), *c1 = malloc(sizeof(float) * nc);
        float *c2 = malloc(sizeof(float) * nc);
        float *da = dev_from(a, na), *db = dev_from(b, na), *dc = dev_from(c0, nc);
        float *de = dev_from(c0, nc);
        ck_assert_int_eq(be->gemm_strided_batched(be, ta, tb, m, n, k, 0.5f, da, ld, 8, db, ld, 8,
                                                  0.25f, dc, ldc, 5, batch),
                         0);
        for (int i = 0; i < batch; i++)
            ck_assert_int_eq(be->gemm(be, ta, tb, m, n, k, 0.5f, da + 8 * i, ld, db + 8 * i, ld,
                                      0.25f, de + 5 * i, ldc),
                             0);
        to_host(c1, dc, nc);
        to_host(c2, de, nc);
        ck_assert_int_eq(memcmp(c1, c2, sizeof(float) * nc), 0);
        ck_assert_int_ne(memcmp(c1, c0, sizeof(float) * nc), 0);
        be->release(be, da), be->release(be, db), be->release(be, dc), be->release(be, de);
        free(a), free(b), free(c0), free(c1), free(c2);
    }
}
END_TEST

/* ---- activations ----------------------------------------------------------- */

static double act_ref(act_kind a, double z)
{
    switch (a) {
    case ACT_RELU:
        return z > 0 ? z : 0;
    case ACT_TANH:
        return tanh(z);
    case ACT_SIGMOID:
        return 1.0 / (1.0 + exp(-z));
    case ACT_GELU:
        return 0.5 * z * (1.0 + erf(z / sqrt(2.0)));
    case ACT_GELU_TANH:
        return 0.5 * z * (1.0 + tanh(sqrt(2.0 / M_PI) * (z + 0.044715 * z * z * z)));
    default:
        return z;
    }
}

static double act_grad_ref(act_kind a, double z)
{
    switch (a) {
    case ACT_RELU:
        return z > 0 ? 1 : 0;
    case ACT_TANH:
        return 1.0 - tanh(z) * tanh(z);
    case ACT_SIGMOID: {
        double s = 1.0 / (1.0 + exp(-z));
        return s * (1.0 - s);
    }
    case ACT_GELU:
        return 0.5 * (1.0 + erf(z / sqrt(2.0))) + z * exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
    case ACT_GELU_TANH: { /* by central difference of the reference, in double */
        double h = 1e-6;
        return (act_ref(a, z + h) - act_ref(a, z - h)) / (2 * h);
    }
    default:
        return 1.0;
    }
}

/* math.h's own e^x and tanh (gelu_tanh's, which vectorize) against
 * double precision. */
START_TEST(expf_and_tanh_without_libm)
{
    double worst_e = 0.0, worst_t = 0.0;
    for (float x = -87.0f; x <= 88.0f; x += 0.00731f)
        worst_e = fmax(worst_e, fabs(math_expf(x) - exp((double)x)) / exp((double)x));
    for (float u = -12.0f; u <= 12.0f; u += 0.000913f)
        worst_t = fmax(worst_t, fabs(math_tanh_abs(u) - tanh((double)u)));
    ck_assert_msg(worst_e <= 2e-7, "math_expf: relative error %g", worst_e);
    ck_assert_msg(worst_t <= 2e-7, "math_tanh_abs: absolute error %g", worst_t);
    ck_assert_float_eq(math_tanh_abs(0.0f), 0.0f);
    ck_assert_float_eq(math_tanh_abs(50.0f), 1.0f);
    ck_assert_float_eq(math_tanh_abs(-50.0f), -1.0f);
}
END_TEST

static const char *act_names[] = {"none", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh"};

/* bias_act_forward must leave the pre-activation z + bias in z and the
 * activation in y; with y == z the activation overwrites it. Looped over
 * act_kind by tcase_add_loop_test. */
START_TEST(bias_act_forward_each_act)
{
    act_kind act = (act_kind)_i;
    const int rows = 6, cols = 9;
    const size_t n = (size_t)rows * cols;
    float *z = host_uniform(n, -4, 4, 21), *bias = host_uniform(cols, -1, 1, 22);
    float *pre = malloc(sizeof(float) * n), *yref = malloc(sizeof(float) * n);
    float *got = malloc(sizeof(float) * n);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            pre[i] = z[i] + bias[c]; /* the same float sum the kernel does */
            yref[i] = (float)act_ref(act, pre[i]);
        }
    float *db = dev_from(bias, cols);

    /* y != z: z gets the pre-activation, y the activation. */
    float *dz = dev_from(z, n), *dy = dev_alloc(n);
    ck_assert_int_eq(be->bias_act_forward(be, dz, dy, db, rows, cols, 1, act), 0);
    to_host(got, dz, n);
    ck_assert_msg(memcmp(got, pre, sizeof(float) * n) == 0, "%s: z is not z + bias",
                  act_names[act]);
    to_host(got, dy, n);
    double err = tu_max_err(got, yref, n, 1e-5);
    ck_assert_msg(err <= 1e-6, "%s (y != z): error %g", act_names[act], err);

    /* y == z: the buffer ends up holding the activation. */
    ck_assert_int_eq(be->upload(be, dz, z, sizeof(float) * n), 0);
    ck_assert_int_eq(be->bias_act_forward(be, dz, dz, db, rows, cols, 1, act), 0);
    to_host(got, dz, n);
    err = tu_max_err(got, yref, n, 1e-5);
    ck_assert_msg(err <= 1e-6, "%s (y == z): error %g", act_names[act], err);

    be->release(be, db), be->release(be, dz), be->release(be, dy);
    free(z), free(bias), free(pre), free(yref), free(got);
}
END_TEST

/* act_backward: dz = dy * act'(z), given z and y = act(z); also in place
 * (dz == dy), which is how the dense layer calls it. */
START_TEST(act_backward_each_act)
{
    act_kind act = (act_kind)_i;
    const size_t n = 200;
    float *z = host_uniform(n, -4, 4, 31), *g = host_uniform(n, -2, 2, 32);
    float *y = malloc(sizeof(float) * n), *ref = malloc(sizeof(float) * n);
    float *got = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) {
        y[i] = (float)act_ref(act, z[i]);
        ref[i] = (float)(g[i] * act_grad_ref(act, z[i]));
    }
    float *dz = dev_from(z, n), *dy = dev_from(y, n), *dg = dev_from(g, n), *out = dev_alloc(n);

    ck_assert_int_eq(be->act_backward(be, out, dg, dz, dy, n, act), 0);
    to_host(got, out, n);
    /* y is rounded to float before tanh/sigmoid derive from it: ~1e-7. */
    double err = tu_max_err(got, ref, n, 1e-5);
    ck_assert_msg(err <= 2e-6, "%s: error %g", act_names[act], err);

    ck_assert_int_eq(be->act_backward(be, dg, dg, dz, dy, n, act), 0);
    to_host(got, dg, n);
    err = tu_max_err(got, ref, n, 1e-5);
    ck_assert_msg(err <= 2e-6, "%s in place: error %g", act_names[act], err);

    be->release(be, dz), be->release(be, dy), be->release(be, dg), be->release(be, out);
    free(z), free(g), free(y), free(ref), free(got);
}
END_TEST

/* ---- bias_grad --------------------------------------------------------------- */

START_TEST(bias_grad_sums_rows)
{
    const int rows = 7, cols = 5;
    float *g = host_uniform((size_t)rows * cols, -1, 1, 41);
    float ref[5], got[5], junk[5] = {9, 9, 9, 9, 9};
    for (int c = 0; c < cols; c++) {
        double s = 0.0;
        for (int r = 0; r < rows; r++)
            s += g[(size_t)r * cols + c];
        ref[c] = (float)s;
    }
    float *dg = dev_from(g, (size_t)rows * cols);
    float *db = dev_from(junk, cols); /* must be overwritten, not added to */
    ck_assert_int_eq(be->bias_grad(be, db, dg, rows, cols, 1), 0);
    to_host(got, db, cols);
    ck_assert_double_le(tu_max_err(got, ref, cols, 1e-6), 1e-6);
    be->release(be, dg), be->release(be, db);
    free(g);
}
END_TEST

/* The channel forms a convolution uses: (outer, channels, inner) tensors,
 * the bias of channel c added to its whole plane; and a missing bias. */
START_TEST(bias_per_channel_planes)
{
    const int outer = 3, ch = 4, inner = 6;
    const size_t n = (size_t)outer * ch * inner;
    float *z = host_uniform(n, -2, 2, 45), *bias = host_uniform(ch, -1, 1, 46);
    float *got = malloc(sizeof(float) * n), ref_db[4] = {0}, got_db[4];
    float *dz = dev_from(z, n), *db = dev_from(bias, ch), *dgrad = dev_alloc(ch);
    ck_assert_int_eq(be->bias_act_forward(be, dz, dz, db, outer, ch, inner, ACT_TANH), 0);
    to_host(got, dz, n);
    for (int o = 0; o < outer; o++)
        for (int c = 0; c < ch; c++)
            for (int i = 0; i < inner; i++) {
                size_t k = ((size_t)o * ch + c) * inner + i;
                ck_assert_double_eq_tol(got[k], tanh((double)(z[k] + bias[c])), 1e-6);
                ref_db[c] += z[k];
            }
    ck_assert_int_eq(be->upload(be, dz, z, sizeof(float) * n), 0);
    ck_assert_int_eq(be->bias_grad(be, dgrad, dz, outer, ch, inner), 0);
    to_host(got_db, dgrad, ch);
    ck_assert_double_le(tu_max_err(got_db, ref_db, ch, 1e-5), 1e-5);
    ck_assert_int_eq(be->bias_act_forward(be, dz, dz, NULL, outer, ch, inner, ACT_NONE), 0);
    to_host(got, dz, n);
    ck_assert_mem_eq(got, z, sizeof(float) * n); /* no bias, no activation: unchanged */
    float *sum = dev_alloc(n);
    ck_assert_int_eq(be->add(be, sum, dz, dz, n), 0);
    to_host(got, sum, n);
    for (size_t k = 0; k < n; k++)
        ck_assert_float_eq(got[k], 2.0f * z[k]);
    be->release(be, dz), be->release(be, db), be->release(be, dgrad), be->release(be, sum);
    free(z), free(bias), free(got);
}
END_TEST

/* ---- softmax cross-entropy -------------------------------------------------- */

/* The reference: log-softmax in double, with the max subtracted. */
static void xent_ref(const float *z, int cols, int label, double scale, double *loss, double *dz,
                     int *argmax)
{
    int best = 0;
    for (int j = 1; j < cols; j++)
        if (z[j] > z[best])
            best = j;
    double s = 0.0;
    for (int j = 0; j < cols; j++)
        s += exp((double)z[j] - z[best]);
    double lse = log(s) + z[best];
    *loss = lse - z[label];
    for (int j = 0; j < cols; j++)
        dz[j] = (exp(z[j] - lse) - (j == label)) * scale;
    *argmax = best;
}

/* Runs xent on rows x cols logits; labels alternate between each row's
 * arg-max (correct) and the class after it (wrong), so both flag values are
 * checked. loss_atol loosens the loss check for huge logits, whose float
 * representation alone carries ~1e-4 of rounding. */
static void check_xent(const float *z, int rows, int cols, float scale, double loss_atol)
{
    size_t n = (size_t)rows * cols;
    int32_t *labels = malloc(sizeof(int32_t) * rows);
    double *dref = malloc(sizeof(double) * n);
    float *stats = malloc(sizeof(float) * 2 * rows), *got = malloc(sizeof(float) * n);
    double *lref = malloc(sizeof(double) * rows);
    int *correct = malloc(sizeof(int) * rows);
    double *scratch = malloc(sizeof(double) * cols);
    for (int r = 0; r < rows; r++) {
        int best, dummy;
        double l;
        xent_ref(z + (size_t)r * cols, cols, 0, 1.0, &l, scratch, &best); /* find arg-max */
        labels[r] = r % 2 ? (best + 1) % cols : best;
        correct[r] = !(r % 2);
        xent_ref(z + (size_t)r * cols, cols, labels[r], scale, &lref[r], dref + (size_t)r * cols,
                 &dummy);
    }
    float *dzl = dev_from(z, n), *ddz = dev_alloc(n), *dstats = dev_alloc(2 * (size_t)rows);
    int32_t *dlab;
    ck_assert_int_eq(be->alloc(be, (void **)&dlab, sizeof(int32_t) * rows), 0);
    ck_assert_int_eq(be->upload(be, dlab, labels, sizeof(int32_t) * rows), 0);

    for (int with_dz = 1; with_dz >= 0; with_dz--) {
        ck_assert_int_eq(be->xent(be, dzl, dlab, rows, cols, scale, with_dz ? ddz : NULL, dstats),
                         0);
        to_host(stats, dstats, 2 * (size_t)rows);
        for (int r = 0; r < rows; r++) {
            ck_assert_msg(isfinite(stats[2 * r]), "row %d: loss %g", r, stats[2 * r]);
            ck_assert_msg(fabs(stats[2 * r] - lref[r]) <= loss_atol + 1e-5 * lref[r],
                          "row %d: loss %.9g, want %.9g", r, stats[2 * r], lref[r]);
            ck_assert_float_eq(stats[2 * r + 1], correct[r] ? 1.0f : 0.0f);
        }
    }
    to_host(got, ddz, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(fabs(got[i] - dref[i]) <= 1e-6 * scale + 1e-5 * fabs(dref[i]),
                      "dz[%zu] = %.9g, want %.9g", i, got[i], dref[i]);

    be->release(be, dzl), be->release(be, ddz), be->release(be, dstats), be->release(be, dlab);
    free(labels), free(dref), free(stats), free(got), free(lref), free(correct), free(scratch);
}

START_TEST(xent_matches_log_softmax)
{
    const int rows = 8, cols = 10;
    float *z = host_uniform((size_t)rows * cols, -4, 4, 51);
    check_xent(z, rows, cols, 0.25f, 1e-6);
    free(z);
}
END_TEST

/* Logits near 1000 overflow a naive exp; the max-shifted form must stay
 * finite and exact. The last row mixes +1000 and -1000 (loss ~2000). */
START_TEST(xent_large_logits_stable)
{
    const int rows = 4, cols = 6;
    float *z = host_uniform((size_t)rows * cols, 995, 1005, 52);
    for (int j = 0; j < cols; j++)
        z[3 * cols + j] = j % 2 ? -1000.0f : 1000.0f + j;
    check_xent(z, rows, cols, 1.0f, 1e-3);
    free(z);
}
END_TEST

/* ---- dropout ------------------------------------------------------------------ */

/* Forward over many elements: every output is 0 or x / (1 - rate), the kept
 * fraction is 1 - rate within ~7 standard deviations, and backward applies
 * exactly the same mask with the same scale. */
START_TEST(dropout_mask_and_scale)
{
    const size_t n = 100000;
    const float rate = 0.3f, keep_scale = 1.0f / (1.0f - rate);
    float *x = host_uniform(n, 0.5f, 1.5f, 61), *g = host_uniform(n, -1, 1, 62);
    float *y = malloc(sizeof(float) * n), *dx = malloc(sizeof(float) * n);
    float *dxd = dev_from(x, n), *dyd = dev_alloc(n), *dgd = dev_from(g, n), *dgx = dev_alloc(n);
    ck_assert_int_eq(be->dropout_forward(be, dyd, dxd, n, rate, 42, 3, 17, 1000), 0);
    ck_assert_int_eq(be->dropout_backward(be, dgx, dgd, n, rate, 42, 3, 17, 1000), 0);
    to_host(y, dyd, n);
    to_host(dx, dgx, n);

    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        bool k = y[i] != 0.0f;
        kept += k;
        /* the mask math.h defines (the GPU's, element by element) */
        ck_assert_int_eq(k, math_dropout_scale(42, 3, 17, 1000 + i, rate) != 0.0f);
        ck_assert_float_eq_tol(y[i], k ? x[i] * keep_scale : 0.0f, 1e-6f);
        ck_assert_float_eq_tol(dx[i], k ? g[i] * keep_scale : 0.0f, 1e-6f);
        ck_assert_msg(k || dx[i] == 0.0f, "element %zu dropped forward, kept backward", i);
    }
    double frac = (double)kept / n, sd = sqrt(rate * (1.0 - rate) / n);
    ck_assert_msg(fabs(frac - (1.0 - rate)) < 7 * sd, "kept %g, want %g", frac, 1.0 - rate);

    be->release(be, dxd), be->release(be, dyd), be->release(be, dgd), be->release(be, dgx);
    free(x), free(g), free(y), free(dx);
}
END_TEST

/* Elements [first, first + n) in one call must equal the same range in two
 * calls split anywhere: that is what makes the masks independent of how a
 * batch is divided among ranks. Starts are chosen off a multiple of 4 (one
 * Philox block gives 4 numbers) and across the 2^34 index boundary where the
 * counter's second word takes over. */
START_TEST(dropout_split_consistent)
{
    const size_t n = 1000;
    const uint64_t firsts[] = {0, 12345, (1ull << 34) - 3};
    const size_t splits[] = {1, 2, 3, 4, 5, 333, 999};
    float *x = host_uniform(n, -1, 1, 63);
    float *whole = malloc(sizeof(float) * n), *parts = malloc(sizeof(float) * n);
    float *dx = dev_from(x, n), *dy = dev_alloc(n);
    for (size_t f = 0; f < sizeof firsts / sizeof *firsts; f++) {
        uint64_t first = firsts[f];
        ck_assert_int_eq(be->dropout_forward(be, dy, dx, n, 0.5f, 7, 1, 2, first), 0);
        to_host(whole, dy, n);
        for (size_t s = 0; s < sizeof splits / sizeof *splits; s++) {
            size_t k = splits[s];
            ck_assert_int_eq(be->dropout_forward(be, dy, dx, k, 0.5f, 7, 1, 2, first), 0);
            ck_assert_int_eq(
                be->dropout_forward(be, dy + k, dx + k, n - k, 0.5f, 7, 1, 2, first + k), 0);
            to_host(parts, dy, n);
            ck_assert_msg(memcmp(whole, parts, sizeof(float) * n) == 0,
                          "first %llu split at %zu differs", (unsigned long long)first, k);
            /* the same through backward, which must agree with forward */
            ck_assert_int_eq(be->dropout_backward(be, dy, dx, k, 0.5f, 7, 1, 2, first), 0);
            ck_assert_int_eq(
                be->dropout_backward(be, dy + k, dx + k, n - k, 0.5f, 7, 1, 2, first + k), 0);
            to_host(parts, dy, n);
            ck_assert_msg(memcmp(whole, parts, sizeof(float) * n) == 0,
                          "backward: first %llu split at %zu differs", (unsigned long long)first,
                          k);
        }
    }
    be->release(be, dx), be->release(be, dy);
    free(x), free(whole), free(parts);
}
END_TEST

/* Different coordinates (seed, layer, step) must give different masks, and
 * rate 0 must be the identity. */
START_TEST(dropout_coordinates_matter)
{
    const size_t n = 256;
    float ones[256], a[256], b[256];
    for (size_t i = 0; i < n; i++)
        ones[i] = 1.0f;
    float *dx = dev_from(ones, n), *dy = dev_alloc(n);
    ck_assert_int_eq(be->dropout_forward(be, dy, dx, n, 0.5f, 1, 0, 0, 0), 0);
    to_host(a, dy, n);
    const uint64_t seeds[] = {2, 1, 1};
    const uint32_t layers[] = {0, 1, 0}, steps[] = {0, 0, 1};
    for (int c = 0; c < 3; c++) {
        ck_assert_int_eq(be->dropout_forward(be, dy, dx, n, 0.5f, seeds[c], layers[c], steps[c], 0),
                         0);
        to_host(b, dy, n);
        ck_assert_msg(memcmp(a, b, sizeof a) != 0, "case %d: same mask", c);
    }
    ck_assert_int_eq(be->dropout_forward(be, dy, dx, n, 0.0f, 1, 0, 0, 0), 0);
    to_host(b, dy, n);
    ck_assert_int_eq(memcmp(b, ones, sizeof ones), 0);
    be->release(be, dx), be->release(be, dy);
}
END_TEST

/* ---- sumsq --------------------------------------------------------------------- */

START_TEST(sumsq_matches_double_sum)
{
    const size_t n = 1001;
    float *x = host_uniform(n, -3, 3, 71);
    double ref = 0.0, got = -1.0;
    for (size_t i = 0; i < n; i++)
        ref += (double)x[i] * x[i];
    float *d = dev_from(x, n);
    ck_assert_int_eq(be->sumsq(be, d, n, &got), 0);
    ck_assert_double_eq_tol(got, ref, 1e-12 * ref);
    ck_assert_int_eq(be->sumsq(be, d, 0, &got), 0);
    ck_assert_double_eq(got, 0.0);
    be->release(be, d);
    free(x);
}
END_TEST

/* The ranges' squares are each range's sumsq added in order, bit for bit
 * (a sharded rank's gradient norm is what it was range by range); no range
 * is 0. */
START_TEST(sumsq_ranges_is_the_ranges_sumsq)
{
    const size_t n = 5000;
    float *x = host_uniform(n, -3, 3, 72);
    float *d = dev_from(x, n);
    const size_t ranges[] = {0, 7, 64, 1000, 1000, 1000, 1024, 4999};
    double want = 0.0, got = -1.0;
    for (int k = 0; k < 4; k++) {
        double part;
        ck_assert_int_eq(be->sumsq(be, d + ranges[2 * k], ranges[2 * k + 1] - ranges[2 * k], &part),
                         0);
        want += part;
    }
    ck_assert_int_eq(be->sumsq_ranges(be, d, ranges, 4, &got), 0);
    ck_assert_mem_eq(&got, &want, sizeof got);
    ck_assert_int_eq(be->sumsq_ranges(be, d, ranges, 0, &got), 0);
    ck_assert_double_eq(got, 0.0);
    be->release(be, d);
    free(x);
}
END_TEST

/* ---- adam ------------------------------------------------------------------------ */

/* math_adam's formula, in double. */
static void adam_ref(double *p, double g, double *m, double *v, const adam_hyper *h)
{
    g = g * h->grad_scale + h->l2 * *p;
    *m = h->beta1 * *m + h->one_minus_beta1 * g;
    *v = h->beta2 * *v + h->one_minus_beta2 * g * g;
    double x = *p * (1.0 - (double)h->lr * h->weight_decay);
    double denom = sqrt(*v) / h->bias_corr2_sqrt + h->eps;
    *p = x - ((double)h->lr / h->bias_corr1) * *m / denom;
}

static void check_adam(float weight_decay, float l2, float grad_scale)
{
    const size_t n = 64;
    const int t = 3;
    adam_hyper h = {.lr = 0.01f,
                    .beta1 = 0.9f,
                    .beta2 = 0.999f,
                    .eps = 1e-8f,
                    .one_minus_beta1 = (float)(1.0 - 0.9),
                    .one_minus_beta2 = (float)(1.0 - 0.999),
                    .weight_decay = weight_decay,
                    .l2 = l2,
                    .grad_scale = grad_scale};
    h.bias_corr1 = (float)(1.0 - pow(h.beta1, t));
    h.bias_corr2_sqrt = (float)sqrt(1.0 - pow(h.beta2, t));
    float *p = host_uniform(n, -1, 1, 81), *g = host_uniform(n, -1, 1, 82);
    float *m = host_uniform(n, -0.1f, 0.1f, 83), *v = host_uniform(n, 0.0f, 0.01f, 84);
    float pr[64], mr[64], vr[64], got[64];
    for (size_t i = 0; i < n; i++) {
        double dp = p[i], dm = m[i], dv = v[i];
        adam_ref(&dp, g[i], &dm, &dv, &h);
        pr[i] = (float)dp, mr[i] = (float)dm, vr[i] = (float)dv;
    }
    float *dp = dev_from(p, n), *dg = dev_from(g, n), *dm = dev_from(m, n), *dv = dev_from(v, n);
    ck_assert_int_eq(be->adam(be, dp, dg, dm, dv, n, &h), 0);
    to_host(got, dp, n);
    ck_assert_double_le(tu_max_err(got, pr, n, 1e-6), 1e-6);
    to_host(got, dm, n);
    ck_assert_double_le(tu_max_err(got, mr, n, 1e-5), 1e-7);
    to_host(got, dv, n);
    ck_assert_double_le(tu_max_err(got, vr, n, 1e-5), 1e-9);
    be->release(be, dp), be->release(be, dg), be->release(be, dm), be->release(be, dv);
    free(p), free(g), free(m), free(v);
}

START_TEST(adam_matches_formula)
{
    check_adam(0.0f, 0.0f, 1.0f);  /* plain Adam */
    check_adam(0.1f, 0.0f, 1.0f);  /* decoupled decay (AdamW) */
    check_adam(0.0f, 0.05f, 1.0f); /* coupled L2 (Adam weight_decay) */
    check_adam(0.1f, 0.0f, 0.5f);  /* clipping folded in */
}
END_TEST

/* ---- rng ------------------------------------------------------------------------- */

/* Known-answer vectors of Philox4x32-10 from Random123's kat_vectors. */
START_TEST(philox_known_answers)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int t = 0; t < 3; t++) {
        rng_block c = {{kat[t][0], kat[t][1], kat[t][2], kat[t][3]}};
        rng_block r = rng_philox(c, kat[t][4], kat[t][5]);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(r.v[j] == kat[t][6 + j], "vector %d word %d: %08x, want %08x", t, j,
                          r.v[j], kat[t][6 + j]);
    }
}
END_TEST

/* rng_uniform: in [0, 1), a multiple of 2^-24, mean ~1/2, and spread over
 * the whole interval (each tenth gets its share). */
START_TEST(rng_uniform_range)
{
    const int n = 100000;
    int bins[10] = {0};
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        float u = rng_uniform(123, RNG_STREAM_SHUFFLE, 4, (uint64_t)i);
        ck_assert(u >= 0.0f && u < 1.0f);
        float scaled = u * 16777216.0f;
        ck_assert_float_eq(scaled, floorf(scaled));
        sum += u;
        bins[(int)(u * 10)]++;
    }
    ck_assert_double_eq_tol(sum / n, 0.5, 0.005);
    for (int b = 0; b < 10; b++)
        ck_assert_int_lt(abs(bins[b] - n / 10), 600);
    /* Streams, steps and seeds give different numbers at the same index. */
    float u0 = rng_uniform(123, RNG_STREAM_INIT, 0, 0);
    ck_assert_float_ne(u0, rng_uniform(123, RNG_STREAM_DROPOUT, 0, 0));
    ck_assert_float_ne(u0, rng_uniform(123, RNG_STREAM_INIT, 1, 0));
    ck_assert_float_ne(u0, rng_uniform(124, RNG_STREAM_INIT, 0, 0));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("cpu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, gemm_all_transposes);
    tcase_add_test(tc, gemm_strided_batched_is_gemm_each);
    tcase_add_test(tc, round_mantissa_nearest_even);
    tcase_add_test(tc, gemm_reduced_precision_rounds_inputs);
    tcase_add_test(tc, conv_bf16_runs_at_tf32);
    tcase_add_test(tc, expf_and_tanh_without_libm);
    tcase_add_loop_test(tc, bias_act_forward_each_act, ACT_NONE, ACT_GELU_TANH + 1);
    tcase_add_loop_test(tc, act_backward_each_act, ACT_NONE, ACT_GELU_TANH + 1);
    tcase_add_test(tc, bias_grad_sums_rows);
    tcase_add_test(tc, bias_per_channel_planes);
    tcase_add_test(tc, xent_matches_log_softmax);
    tcase_add_test(tc, xent_large_logits_stable);
    tcase_add_test(tc, dropout_mask_and_scale);
    tcase_add_test(tc, dropout_split_consistent);
    tcase_add_test(tc, dropout_coordinates_matter);
    tcase_add_test(tc, sumsq_matches_double_sum);
    tcase_add_test(tc, sumsq_ranges_is_the_ranges_sumsq);
    tcase_add_test(tc, adam_matches_formula);
    suite_add_tcase(s, tc);

    TCase *rng = tcase_create("rng");
    tcase_set_timeout(rng, 60);
    tcase_add_test(rng, philox_known_answers);
    tcase_add_test(rng, rng_uniform_range);
    suite_add_tcase(s, rng);
    return tu_run(s);
}
