/* test_layers: the CPU backend's convolution and pooling against direct
 * loops written here, ties in max pooling, and batch norm's statistics:
 * training normalizes with the batch and updates the running statistics as
 * PyTorch does; evaluation uses the running statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "util/err.h"

static backend *be;

static void setup(void)
{
    be = backend_cpu_open(1);
}

static void teardown(void)
{
    backend_close(be);
}

/* Direct convolution: y[n][o][oy][ox] = sum over c, i, j of w[o][c][i][j] *
 * x[n][c][oy s - p + i][ox s - p + j]. */
static void conv_ref(const conv_geom *g, int rows, const float *x, const float *w, float *y)
{
    for (int n = 0; n < rows; n++)
        for (int o = 0; o < g->out_c; o++)
            for (int oy = 0; oy < g->out_h; oy++)
                for (int ox = 0; ox < g->out_w; ox++) {
                    double s = 0;
                    for (int c = 0; c < g->in_c; c++)
                        for (int i = 0; i < g->k; i++)
                            for (int j = 0; j < g->k; j++) {
                                int iy = oy * g->stride - g->pad + i;
                                int ix = ox * g->stride - g->pad + j;
                                if (iy < 0 || iy >= g->in_h || ix < 0 || ix >= g->in_w)
                                    continue;
                                s += (double)w[((o * g->in_c + c) * g->k + i) * g->k + j] *
                                     x[((n * g->in_c + c) * g->in_h + iy) * g->in_w + ix];
                            }
                    y[((n * g->out_c + o) * g->out_h + oy) * g->out_w + ox] = (float)s;
                }
}

static void check_conv(conv_geom g)
{
    const int rows = 3;
    g.out_h = (g.in_h + 2 * g.pad - g.k) / g.stride + 1;
    g.out_w = (g.in_w + 2 * g.pad - g.k) / g.stride + 1;
    size_t nx = (size_t)rows * g.in_c * g.in_h * g.in_w, nw = (size_t)g.out_c * g.in_c * g.k * g.k;
    size_t ny = (size_t)rows * g.out_c * g.out_h * g.out_w;
    float *x = malloc(sizeof(float) * nx), *w = malloc(sizeof(float) * nw);
    float *y = malloc(sizeof(float) * ny), *ref = malloc(sizeof(float) * ny);
    tu_fill_uniform(x, nx, -1, 1, 1);
    tu_fill_uniform(w, nw, -1, 1, 2);
    void *plan;
    ck_assert_int_eq(be->conv_plan(be, &g, rows, rows, &plan), 0);
    ck_assert_int_eq(be->conv_forward(be, plan, x, w, y, rows), 0);
    conv_ref(&g, rows, x, w, ref);
    ck_assert_double_le(tu_max_err(y, ref, ny, 1e-5), 1e-5);
    be->plan_release(be, plan);
    free(x), free(w), free(y), free(ref);
}

START_TEST(conv_matches_direct_loops)
{
    check_conv(
        (conv_geom){.in_c = 3, .in_h = 8, .in_w = 7, .out_c = 4, .k = 3, .stride = 1, .pad = 1});
    check_conv(
        (conv_geom){.in_c = 2, .in_h = 9, .in_w = 9, .out_c = 3, .k = 3, .stride = 2, .pad = 0});
    check_conv(
        (conv_geom){.in_c = 1, .in_h = 6, .in_w = 5, .out_c = 2, .k = 5, .stride = 1, .pad = 2});
    check_conv(
        (conv_geom){.in_c = 4, .in_h = 4, .in_w = 4, .out_c = 5, .k = 1, .stride = 1, .pad = 0});
    check_conv(
        (conv_geom){.in_c = 2, .in_h = 7, .in_w = 6, .out_c = 2, .k = 2, .stride = 3, .pad = 1});
}
END_TEST

/* Max and average pooling, forward and backward, against direct loops,
 * padding included. */
static void check_pool(pool_geom g)
{
    const int rows = 2;
    g.out_h = (g.in_h + 2 * g.pad - g.k_h) / g.stride + 1;
    g.out_w = (g.in_w + 2 * g.pad - g.k_w) / g.stride + 1;
    size_t nx = (size_t)rows * g.c * g.in_h * g.in_w, ny = (size_t)rows * g.c * g.out_h * g.out_w;
    float *x = malloc(sizeof(float) * nx), *y = malloc(sizeof(float) * ny);
    tu_fill_uniform(x, nx, -1, 1, 3);
    void *plan;
    ck_assert_int_eq(be->pool_plan(be, &g, rows, &plan), 0);
    ck_assert_int_eq(be->pool_forward(be, plan, x, y, rows), 0);
    for (int p = 0; p < rows * g.c; p++)
        for (int oy = 0; oy < g.out_h; oy++)
            for (int ox = 0; ox < g.out_w; ox++) {
                double best = -1e30, sum = 0;
                for (int i = 0; i < g.k_h; i++)
                    for (int j = 0; j < g.k_w; j++) {
                        int iy = oy * g.stride - g.pad + i, ix = ox * g.stride - g.pad + j;
                        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w)
                            continue;
                        double v = x[(p * g.in_h + iy) * g.in_w + ix];
                        best = v > best ? v : best;
                        sum += v;
                    }
                double want = g.max ? best : sum / (g.k_h * g.k_w);
                ck_assert_double_eq_tol(y[(p * g.out_h + oy) * g.out_w + ox], want, 1e-6);
            }
    /* backward: each window's gradient goes to its first maximum (max) or
     * is spread evenly over the window's pixels inside the image (average) */
    float *dy = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    double *ref = calloc(nx, sizeof(double));
    tu_fill_uniform(dy, ny, -1, 1, 4);
    ck_assert_int_eq(be->pool_backward(be, plan, x, y, dy, dx, rows), 0);
    for (int p = 0; p < rows * g.c; p++)
        for (int oy = 0; oy < g.out_h; oy++)
            for (int ox = 0; ox < g.out_w; ox++) {
                double d = dy[(p * g.out_h + oy) * g.out_w + ox];
                int best = -1;
                for (int i = 0; i < g.k_h; i++)
                    for (int j = 0; j < g.k_w; j++) {
                        int iy = oy * g.stride - g.pad + i, ix = ox * g.stride - g.pad + j;
                        if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w)
                            continue;
                        int at = (p * g.in_h + iy) * g.in_w + ix;
                        if (!g.max)
                            ref[at] += d / (g.k_h * g.k_w);
                        else if (best < 0 || x[at] > x[best])
                            best = at;
                    }
                if (best >= 0)
                    ref[best] += d;
            }
    for (size_t i = 0; i < nx; i++)
        ck_assert_double_eq_tol(dx[i], ref[i], 1e-6);
    be->plan_release(be, plan);
    free(x), free(y), free(dy), free(dx), free(ref);
}

START_TEST(pooling_matches_direct_loops)
{
    for (int max = 0; max < 2; max++) {
        check_pool(
            (pool_geom){.c = 3, .in_h = 6, .in_w = 6, .k_h = 2, .k_w = 2, .stride = 2, .max = max});
        /* 2 x 2 at stride 2 with an odd last row and column no window covers */
        check_pool(
            (pool_geom){.c = 2, .in_h = 7, .in_w = 5, .k_h = 2, .k_w = 2, .stride = 2, .max = max});
        check_pool((pool_geom){
            .c = 2, .in_h = 7, .in_w = 5, .k_h = 3, .k_w = 3, .stride = 2, .pad = 1, .max = max});
        check_pool(
            (pool_geom){.c = 2, .in_h = 4, .in_w = 6, .k_h = 4, .k_w = 6, .stride = 1, .max = max});
    }
}
END_TEST

START_TEST(max_pool_ties_go_to_the_first)
{
    /* one 4x4 plane of equal values: each 2x2 window is all ties */
    pool_geom g = {.c = 1,
                   .in_h = 4,
                   .in_w = 4,
                   .out_h = 2,
                   .out_w = 2,
                   .k_h = 2,
                   .k_w = 2,
                   .stride = 2,
                   .max = true};
    float x[16], y[4], dy[4] = {1, 2, 3, 4}, dx[16];
    for (int i = 0; i < 16; i++)
        x[i] = 0.5f;
    void *plan;
    ck_assert_int_eq(be->pool_plan(be, &g, 1, &plan), 0);
    ck_assert_int_eq(be->pool_forward(be, plan, x, y, 1), 0);
    ck_assert_int_eq(be->pool_backward(be, plan, x, y, dy, dx, 1), 0);
    /* the gradient of each window lands on its top-left element only */
    const float want[16] = {1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0};
    for (int i = 0; i < 16; i++)
        ck_assert_float_eq(dx[i], want[i]);
    /* overlapping windows (stride 1): a shared maximum collects from each */
    pool_geom o = {.c = 1,
                   .in_h = 1,
                   .in_w = 3,
                   .out_h = 1,
                   .out_w = 2,
                   .k_h = 1,
                   .k_w = 2,
                   .stride = 1,
                   .max = true};
    float x3[3] = {1, 5, 5}, y2[2], d2[2] = {1, 10}, dx3[3];
    void *plan2;
    ck_assert_int_eq(be->pool_plan(be, &o, 1, &plan2), 0);
    ck_assert_int_eq(be->pool_forward(be, plan2, x3, y2, 1), 0);
    ck_assert_int_eq(be->pool_backward(be, plan2, x3, y2, d2, dx3, 1), 0);
    ck_assert_float_eq(dx3[0], 0.0f);
    ck_assert_float_eq(dx3[1], 11.0f); /* the first 5 wins both windows */
    ck_assert_float_eq(dx3[2], 0.0f);
    be->plan_release(be, plan);
    be->plan_release(be, plan2);
}
END_TEST

/* A model of one batch norm (then a dense layer for the loss) on (2, 3, 3). */
static model *bn_model(config *cfg, act_kind act)
{
    config_defaults(cfg);
    cfg->n_layers = 2;
    cfg->layers[0] = (layer_cfg){
        .type = LAYER_BATCHNORM, .momentum = 0.1, .eps = 1e-5, .sync = true, .activation = act};
    cfg->layers[1] = (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = 2};
    model *m = model_build(cfg, be, (int[3]){2, 3, 3}, 8);
    ck_assert_msg(m != NULL, "%s", err_msg());
    ck_assert_int_eq(model_init_params(m, 1), 0);
    return m;
}

START_TEST(batchnorm_train_and_eval)
{
    config *cfg = malloc(sizeof *cfg);
    model *m = bn_model(cfg, ACT_NONE);
    const int rows = 8, hw = 9;
    tu_fill_uniform(m->x, (size_t)rows * 18, -2, 3, 9);
    const layer *l = &m->layers[0];
    float *gamma = l->w, *beta = l->b;
    gamma[0] = 2.0f, gamma[1] = 0.5f;
    beta[0] = 0.25f, beta[1] = -1.0f;
    ck_assert_int_eq(model_forward(m, rows, true), 0);
    for (int c = 0; c < 2; c++) {
        double s = 0, s2 = 0;
        for (int n = 0; n < rows; n++)
            for (int i = 0; i < hw; i++) {
                double v = m->x[(n * 2 + c) * hw + i];
                s += v, s2 += v * v;
            }
        double mean = s / (rows * hw), var = s2 / (rows * hw) - mean * mean;
        for (int n = 0; n < rows; n++) /* training output: the batch's statistics */
            for (int i = 0; i < hw; i++) {
                double v = m->x[(n * 2 + c) * hw + i];
                double want = gamma[c] * (v - mean) / sqrt(var + 1e-5) + beta[c];
                ck_assert_double_eq_tol(l->out_ptr[(n * 2 + c) * hw + i], want, 1e-5);
            }
        /* running statistics: 0.9 * initial + 0.1 * batch, the variance unbiased */
        const float *run_mean = m->state + l->state_offset;
        ck_assert_double_eq_tol(run_mean[c], 0.1 * mean, 1e-6);
        ck_assert_double_eq_tol(run_mean[2 + c], 0.9 + 0.1 * var * 72 / 71, 1e-6);
    }
    /* evaluation uses the running statistics, not the batch's */
    float *state = m->state + l->state_offset;
    state[0] = 1.0f, state[1] = -2.0f, state[2] = 4.0f, state[3] = 0.25f;
    ck_assert_int_eq(model_forward(m, rows, false), 0);
    for (int n = 0; n < rows; n++)
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < hw; i++) {
                double v = m->x[(n * 2 + c) * hw + i];
                double want = gamma[c] * (v - state[c]) / sqrt(state[2 + c] + 1e-5) + beta[c];
                ck_assert_double_eq_tol(l->out_ptr[(n * 2 + c) * hw + i], want, 1e-5);
            }
    ck_assert_float_eq(state[0], 1.0f); /* evaluation leaves them alone */
    model_free(m);
    free(cfg);
}
END_TEST

START_TEST(residual_shapes_are_checked)
{
    config *cfg = malloc(sizeof *cfg);
    config_defaults(cfg);
    snprintf(cfg->source, sizeof cfg->source, "r.ini");
    cfg->n_layers = 3;
    cfg->layers[0] = (layer_cfg){
        .type = LAYER_CONV2D, .filters = 4, .size = 3, .padding = 1, .bias = true, .line = 3};
    cfg->layers[1] = (layer_cfg){.type = LAYER_CONV2D,
                                 .filters = 8,
                                 .size = 3,
                                 .stride = 2,
                                 .padding = 1,
                                 .bias = true,
                                 .line = 8};
    cfg->layers[2] = (layer_cfg){.type = LAYER_RESIDUAL, .from = -2, .line = 13};
    ck_assert_ptr_null(model_build(cfg, be, (int[3]){1, 8, 8}, 2));
    ck_assert_str_eq(err_msg(), "r.ini:13: layer layer2 adds the output of layer layer0, (4, 8, "
                                "8), to its input, (8, 4, 4): the shapes must agree");
    cfg->layers[2].from = -5;
    ck_assert_ptr_null(model_build(cfg, be, (int[3]){1, 8, 8}, 2));
    ck_assert_str_eq(err_msg(), "r.ini:13: layer layer2: from = -5 reaches before the first layer");
    cfg->layers[1].size = 11;
    ck_assert_ptr_null(model_build(cfg, be, (int[3]){1, 8, 8}, 2));
    ck_assert_ptr_nonnull(strstr(err_msg(), "r.ini:8: layer layer1: input (4, 8, 8): a window of "
                                            "11 does not fit an input of 8 with padding 1"));
    free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, conv_matches_direct_loops);
    tcase_add_test(tc, pooling_matches_direct_loops);
    tcase_add_test(tc, max_pool_ties_go_to_the_first);
    tcase_add_test(tc, batchnorm_train_and_eval);
    tcase_add_test(tc, residual_shapes_are_checked);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
