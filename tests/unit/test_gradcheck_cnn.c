/* test_gradcheck_cnn: the backward passes of the convolutional layers
 * (conv2d with stride and padding variants, max and average pooling, global
 * average pooling, flatten, batch norm in training mode, residual) against
 * central finite differences of the loss, through whole small models.
 *
 * Float32 losses of order 1 with a step of 1e-2: truncation ~1e-5 and
 * rounding ~3e-5 (see test_gradcheck.c); gradients ~1e-2 to 1e-1, so each
 * element must agree within 3e-4 + 2e-2 |fd| and the whole vector within
 * 2e-3 relative. Activations are smooth (tanh, gelu) and inputs random, so
 * no finite difference straddles a kink or a pooling tie. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "trainer/config.h"
#include "trainer/model.h"
#include "util/err.h"

#define ROWS 4

#define EPS 1e-2f

static backend *be;

static void setup(void)
{
    be = backend_cpu_open(1);
}

static void teardown(void)
{
    backend_close(be);
}

static layer_cfg conv(int filters, int size, int stride, int pad, act_kind act)
{
    return (layer_cfg){.type = LAYER_CONV2D,
                       .filters = filters,
                       .size = size,
                       .stride = stride,
                       .padding = pad,
                       .bias = true,
                       .activation = act};
}

static layer_cfg pool(layer_type t, int size, int stride, int pad)
{
    return (layer_cfg){.type = t, .size = size, .stride = stride, .padding = pad};
}

static layer_cfg bn(act_kind act)
{
    return (layer_cfg){
        .type = LAYER_BATCHNORM, .momentum = 0.1, .eps = 1e-5, .sync = true, .activation = act};
}

static layer_cfg dense(int units)
{
    return (layer_cfg){.type = LAYER_DENSE, .bias = true, .units = units};
}

/* Builds the model, with random weights (biases and batch-norm scales too,
 * so every path carries gradient), inputs and labels. */
static model *build(config *cfg, const layer_cfg *layers, int n, const int in[3])
{
    config_defaults(cfg);
    for (int i = 0; i < n; i++) {
        cfg->layers[i] = layers[i];
        cfg->layers[i].line = i + 1;
    }
    cfg->n_layers = n;
    model *m = model_build(cfg, be, in, ROWS);
    ck_assert_msg(m != NULL, "%s", err_msg());
    ck_assert_int_eq(model_init_params(m, 5), 0);
    float *p = malloc(sizeof(float) * m->n_params);
    tu_fill_uniform(p, m->n_params, -0.5f, 0.5f, 77);
    for (int i = 0; i < n; i++) /* keep batch-norm scales away from 0 */
        if (m->layers[i].type == LAYER_BATCHNORM)
            for (int c = 0; c < m->layers[i].in_shape[0]; c++)
                p[m->layers[i].param_offset + c] += 1.0f;
    ck_assert_int_eq(be->upload(be, m->params, p, sizeof(float) * m->n_params), 0);
    free(p);
    tu_fill_uniform(m->x, (size_t)ROWS * m->in_features, -1, 1, 78);
    for (int r = 0; r < ROWS; r++)
        m->y[r] = (r * 3) % m->classes;
    return m;
}

static double loss_of(model *m)
{
    double loss = 0, correct = 0;
    ck_assert_int_eq(model_forward(m, ROWS, true), 0);
    ck_assert_int_eq(model_loss(m, ROWS, 1.0f / ROWS, false, &loss, &correct), 0);
    return loss / ROWS;
}

/* Compares m->grads with finite differences over up to ~400 parameters. */
static void check_model(model *m, const char *what)
{
    double loss = 0, correct = 0;
    ck_assert_int_eq(model_forward(m, ROWS, true), 0);
    ck_assert_int_eq(model_loss(m, ROWS, 1.0f / ROWS, true, &loss, &correct), 0);
    ck_assert_int_eq(model_backward(m, ROWS), 0);
    float *g = malloc(sizeof(float) * m->n_params);
    memcpy(g, m->grads, sizeof(float) * m->n_params);
    size_t stride = m->n_params / 400 + 1;
    double num = 0, den = 0;
    for (size_t i = 0; i < m->n_params; i += stride) {
        float saved = m->params[i];
        m->params[i] = saved + EPS;
        double up = loss_of(m);
        m->params[i] = saved - EPS;
        double down = loss_of(m);
        m->params[i] = saved;
        double fd = (up - down) / (2 * EPS);
        double e = fabs(fd - g[i]);
        ck_assert_msg(e <= 3e-4 + 2e-2 * fabs(fd), "%s: parameter %zu: backward %g, fd %g", what, i,
                      g[i], fd);
        num += e * e;
        den += fd * fd;
    }
    ck_assert_msg(sqrt(num) <= 2e-3 * sqrt(den) + 1e-6, "%s: relative error %g", what,
                  sqrt(num / (den + 1e-30)));
    ck_assert_msg(den > 1e-8, "%s: all gradients vanish: the check would be empty", what);
    free(g);
}

static void run(const layer_cfg *layers, int n, const int in[3], const char *what)
{
    config *cfg = malloc(sizeof *cfg);
    model *m = build(cfg, layers, n, in);
    check_model(m, what);
    model_free(m);
    free(cfg);
}

START_TEST(conv_variants)
{
    const int in[3] = {2, 7, 7};
    layer_cfg a[] = {conv(3, 3, 1, 1, ACT_TANH), conv(2, 3, 2, 0, ACT_GELU), dense(3)};
    run(a, 3, in, "conv 3x3 pad 1, then 3x3 stride 2");
    layer_cfg b[] = {conv(4, 1, 1, 0, ACT_NONE), conv(2, 2, 2, 1, ACT_TANH), dense(3)};
    run(b, 3, in, "conv 1x1, then 2x2 stride 2 pad 1");
    layer_cfg c[] = {conv(2, 5, 1, 2, ACT_SIGMOID), conv(3, 3, 3, 1, ACT_NONE), dense(3)};
    run(c, 3, in, "conv 5x5 pad 2, then 3x3 stride 3 pad 1");
}
END_TEST

/* Max pooling has kinks wherever two elements of a window swap places, and
 * with random inputs some window always has two within a step of each
 * other. So here the input's pixels are distinct and equal across channels,
 * and a 1x1 convolution with positive weights, followed by tanh, keeps their
 * order whatever the step: no kink is in reach, and the check sees where the
 * backward pass sends each window's gradient. */
static void run_maxpool(int size, int stride, int pad, const char *what)
{
    const int in[3] = {2, 6, 6};
    layer_cfg layers[] = {conv(2, 1, 1, 0, ACT_TANH), pool(LAYER_MAXPOOL, size, stride, pad),
                          dense(3)};
    config *cfg = malloc(sizeof *cfg);
    model *m = build(cfg, layers, 3, in);
    for (int r = 0; r < ROWS; r++)
        for (int i = 0; i < 36; i++) {
            float v = (float)((i * 7 + r * 5) % 36) / 36.0f - 0.5f; /* a permutation */
            m->x[(r * 2 + 0) * 36 + i] = m->x[(r * 2 + 1) * 36 + i] = v;
        }
    for (int w = 0; w < 4; w++) /* conv weights (2, 2, 1, 1): positive */
        m->params[w] = 0.3f + 0.1f * (float)w;
    check_model(m, what);
    model_free(m);
    free(cfg);
}

START_TEST(pooling)
{
    const int in[3] = {2, 6, 6};
    run_maxpool(2, 0, 0, "maxpool 2");
    run_maxpool(3, 2, 1, "maxpool 3 stride 2 pad 1");
    layer_cfg c[] = {conv(3, 3, 1, 1, ACT_TANH), pool(LAYER_AVGPOOL, 3, 2, 1), dense(3)};
    run(c, 3, in, "avgpool 3 stride 2 pad 1");
    layer_cfg d[] = {conv(3, 3, 1, 0, ACT_TANH), (layer_cfg){.type = LAYER_GLOBAL_AVGPOOL},
                     (layer_cfg){.type = LAYER_FLATTEN}, dense(3)};
    run(d, 4, in, "global average pool, flatten");
}
END_TEST

START_TEST(batchnorm_train)
{
    const int in[3] = {2, 5, 5};
    layer_cfg a[] = {conv(3, 3, 1, 1, ACT_NONE), bn(ACT_TANH), dense(3)};
    run(a, 3, in, "conv, batchnorm");
    const int flat[3] = {6, 1, 1};
    layer_cfg b[] = {dense(5), bn(ACT_GELU), dense(3)};
    run(b, 3, flat, "dense, batchnorm (per feature)");
}
END_TEST

START_TEST(residual_block)
{
    const int in[3] = {3, 5, 5};
    layer_cfg block[] = {conv(3, 3, 1, 1, ACT_TANH), conv(3, 3, 1, 1, ACT_NONE), bn(ACT_NONE),
                         (layer_cfg){.type = LAYER_RESIDUAL, .from = -3, .activation = ACT_TANH},
                         dense(3)};
    run(block, 5, in, "conv, conv, bn, residual from -3");
    layer_cfg twice[] = {conv(2, 3, 1, 1, ACT_TANH),
                         (layer_cfg){.type = LAYER_RESIDUAL, .from = -1, .activation = ACT_NONE},
                         (layer_cfg){.type = LAYER_RESIDUAL, .from = -2, .activation = ACT_TANH},
                         dense(3)};
    run(twice, 4, in, "two residuals from one source");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gradcheck_cnn");
    TCase *tc = tcase_create("gradcheck_cnn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, conv_variants);
    tcase_add_test(tc, pooling);
    tcase_add_test(tc, batchnorm_train);
    tcase_add_test(tc, residual_block);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
